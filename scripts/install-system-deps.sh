#!/usr/bin/env bash
# Installs the real components the tests use (git, PostgreSQL, OpenSSH server, Chromium for the
# web view's browser test, tmux for the live view's), only if missing.
# Idempotent: a machine that has them is left alone.
set -euo pipefail

need=()
command -v git >/dev/null 2>&1 || need+=(git)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
# Playwright drives this one (executable_path); it never downloads a browser of its own.
[ -x /usr/bin/chromium ] || need+=(chromium)
# The live view's tests drive a real terminal.
command -v tmux >/dev/null 2>&1 || need+=(tmux)

if [ ${#need[@]} -eq 0 ]; then
  echo "==> system packages present (git, postgresql, openssh-server, chromium, tmux)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: missing ${need[*]} and not root; install them with your package manager" >&2
    exit 1
  fi
fi
echo "==> installing ${need[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
# Debian starts services on install; the tests start their own on private ports.
$SUDO service postgresql stop >/dev/null 2>&1 || true
