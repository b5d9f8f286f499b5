"""`${VAR}` in agent settings: values come from overseer's environment at run time.

Secrets (API keys) stay out of plan files this way; `$$` is a literal dollar sign.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from overseer.errors import OverseerError

_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(value: str, environ: Mapping[str, str], *, where: str = "env") -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        if name not in environ:
            raise OverseerError(
                f"{where}: ${{{name}}} is not set in overseer's environment",
                hint=f"export {name}=… before running overseer, or write the value itself",
            )
        return environ[name]

    return _REF.sub(sub, value)


def expand_env(values: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    return {k: expand(v, environ, where=f"env.{k}") for k, v in values.items()}
