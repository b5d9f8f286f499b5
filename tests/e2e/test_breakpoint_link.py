"""A notification's link answers its breakpoint from a phone: it opens the attempt's page in
`overseer serve` and takes an answer with a short-lived token for that breakpoint alone —
which opens nothing else, fails once tampered with, and resumes the parked run when used."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from e2e_helpers import overseer_cmd, parked_run, serving

from overseer.web import links

PLAN = """\
version: 1
name: phone
defaults: {agent: sh, timeout: 60}
agents:
  sh: {type: shell, command: "echo from the agent > made.txt"}
tasks:
  - {id: make, prompt: make it, breakpoint: after, gates: [{name: made, run: "test -f made.txt"}]}
"""


def _status(repo: Path, env: dict[str, str]) -> dict:
    res = subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env, capture_output=True, text=True,
                         timeout=60)
    return dict(json.loads(res.stdout))


def test_a_notification_link_opens_and_answers_only_its_breakpoint(make_repo, tmp_path: Path) -> None:
    inbox = tmp_path / "urls.txt"
    repo = make_repo({"plan.yaml": PLAN})
    (repo / "overseer.yaml").write_text(f"""\
notifications:
  command: 'printf "%s\\\\n" "$OVERSEER_URL" >> {inbox}'
  events: [breakpoint]
web:
  public_url: http://phone.example:8765
""")
    env = parked_run(repo, tmp_path / "home")
    [bp] = [b for b in _status(repo, env)["breakpoints"] if b["state"] == "open"]
    [url] = inbox.read_text().split()
    assert url.startswith(f"http://phone.example:8765/b/{bp['id']}?t=")
    # The key that signs links stays in the repository's state folder, for its owner only.
    assert (repo / ".overseer" / "web.key").stat().st_mode & 0o077 == 0
    link = urlsplit(url)
    path = f"{link.path}?{link.query}"
    given = link.query.split("t=", 1)[1]

    with serving(repo, env) as s, httpx.Client(base_url=s.base, timeout=30) as phone:
        page = phone.get(path)
        assert page.status_code == 200, page.text
        assert bp["id"] in page.text and 'name="t"' in page.text and "Approve" in page.text
        assert "+from the agent" in page.text  # the change under review
        assert "set-cookie" not in page.headers  # the link never logs a browser in

        # Nothing else opens with it: not the run, not the API, not another breakpoint.
        assert phone.get(f"/?t={given}").status_code == 401
        assert phone.get(f"/runs/{_status(repo, env)['run_id']}?t={given}").status_code == 401
        assert phone.get(f"/api/runs?t={given}").status_code == 401
        assert phone.get(f"/b/bp-other?t={given}").status_code == 403
        tampered = given[:-1] + ("0" if given[-1] != "0" else "1")
        assert phone.get(f"/b/{bp['id']}?t={tampered}").status_code == 403
        # A form posted without the link's token (another site's page) is refused.
        assert phone.post(f"/b/{bp['id']}/approve", data={"note": "x"}).status_code == 403

        done = phone.post(f"/b/{bp['id']}/approve", data={"t": given, "note": "fine, from my phone"})
        assert done.status_code == 200, done.text
        assert "approved" in done.text and 'name="t"' not in done.text.split("</form>", 1)[0]
        # The parked run goes on by itself, as after any answer from the web view.
        deadline = time.monotonic() + 120
        while _status(repo, env)["state"] != "completed" and time.monotonic() < deadline:
            time.sleep(0.5)
    st = _status(repo, env)
    assert st["state"] == "completed", st
    assert [(b["state"], b.get("note")) for b in st["breakpoints"]][0][0] == "approved"


def test_link_tokens_expire_and_name_one_breakpoint() -> None:
    key = bytes(32)
    t = links.sign(key, "bp-1", ttl_s=60, now=1000)
    assert links.valid(key, "bp-1", t, now=1059)
    assert not links.valid(key, "bp-1", t, now=1061)  # expired
    assert not links.valid(key, "bp-2", t, now=1000)  # another breakpoint
    assert not links.valid(bytes([1]) * 32, "bp-1", t, now=1000)  # another repository's key
    expires, sig = t.split(".")
    assert not links.valid(key, "bp-1", f"{int(expires) + 3600}.{sig}", now=1000)  # extended by hand
    assert not links.valid(key, "bp-1", None) and not links.valid(key, "bp-1", "junk")
