"""What DBOS keeps of each workflow's inputs and each step's output, with secrets masked.

DBOS pickles those into its system database (dbos.sqlite, or the `dbos` schema of a shared
PostgreSQL), where base64 hides a secret from grep but not from anyone who reads the table. So
values are scrubbed (overseer.scrub) before they are pickled. An `env` mapping is kept as it is:
it holds what an agent or gate must be started with after a recovery — as the plan wrote it,
which is `${VAR}` for a secret (`overseer validate` warns about a literal one).
"""

from __future__ import annotations

import base64
import dataclasses
import pickle
from typing import Any

from dbos._serialization import Serializer
from pydantic import BaseModel

from overseer.scrub import Scrubber, process_scrubber

KEPT_AS_WRITTEN = frozenset({"env"})


def scrubbed(value: Any, scrub: Scrubber) -> Any:
    """`value` with every string in it scrubbed: containers, pydantic models and dataclasses
    are rebuilt with scrubbed contents, anything else is returned as it is."""
    if isinstance(value, str):
        return scrub.text(value)
    if isinstance(value, dict):
        return {k: v if k in KEPT_AS_WRITTEN else scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v, scrub) for v in value]
    if isinstance(value, tuple):
        items = [scrubbed(v, scrub) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, BaseModel):
        return value.model_copy(update={
            name: scrubbed(getattr(value, name), scrub)
            for name in type(value).model_fields if name not in KEPT_AS_WRITTEN
        })
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{
            f.name: scrubbed(getattr(value, f.name), scrub)
            for f in dataclasses.fields(value) if f.init and f.name not in KEPT_AS_WRITTEN
        })
    return value


class ScrubbingSerializer(Serializer):
    """DBOS's pickle, of the scrubbed value. Rows an older overseer wrote with DBOS's own
    pickle still read: DBOS picks the reader by the name each row records."""

    def serialize(self, data: Any) -> str:
        return base64.b64encode(pickle.dumps(scrubbed(data, process_scrubber()))).decode("ascii")

    def deserialize(self, serialized_data: str) -> Any:
        return pickle.loads(base64.b64decode(serialized_data))  # noqa: S301 - our own rows

    def name(self) -> str:
        return "overseer_scrubbed_pickle"
