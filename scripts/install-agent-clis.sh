#!/usr/bin/env bash
# Installs the real agent CLIs the tests drive, at pinned versions, into .agents/ (ignored by
# git). Idempotent: a pinned version already present is not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.agents
mkdir -p "$DEST"

# Pinned versions: AGENT-CLIS.md records what was measured with each.
NPM_PACKAGES=(
  "@anthropic-ai/claude-code@2.1.330"
  "@openai/codex@0.169.0"
  "@google/gemini-cli@0.61.0"
)
AIDER_VERSION="0.86.2"

if [ ! -f "$DEST/package.json" ]; then
  echo '{"name": "overseer-test-agents", "private": true}' > "$DEST/package.json"
fi
missing=()
for spec in "${NPM_PACKAGES[@]}"; do
  name="${spec%@*}"; version="${spec##*@}"
  have=$(node -p "try{require('./$DEST/node_modules/$name/package.json').version}catch(e){''}" 2>/dev/null || true)
  [ "$have" = "$version" ] || missing+=("$spec")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> npm install ${missing[*]} (a few hundred MB, about a minute)"
  (cd "$DEST" && npm install --no-audit --no-fund --loglevel=error "${missing[@]}")
else
  echo "==> agent CLIs present at pinned versions"
fi

# Aider pins its dependencies tightly: it gets a venv of its own.
if [ ! -x "$DEST/aider-venv/bin/aider" ] || ! "$DEST/aider-venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('aider-chat') != '$AIDER_VERSION')" 2>/dev/null; then
  echo "==> installing aider-chat $AIDER_VERSION in $DEST/aider-venv (a few minutes)"
  python3 -m venv "$DEST/aider-venv"
  "$DEST/aider-venv/bin/python" -m pip install -q --upgrade pip
  "$DEST/aider-venv/bin/python" -m pip install -q "aider-chat==$AIDER_VERSION"
fi
