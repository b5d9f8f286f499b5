"""What DBOS keeps of each workflow's inputs and each step's output, with secrets masked.

DBOS pickles those into its system database (dbos.sqlite, or the `dbos` schema of a shared
PostgreSQL), where base64 hides a secret from grep but not from anyone who reads the table. So
values are scrubbed (overseer.scrub) before they are pickled. An `env` mapping is kept as it is:
it holds what an agent or gate must be started with after a recovery — as the plan wrote it,
which is `${VAR}` for a secret (`overseer validate` warns about a literal one).
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from dbos._serialization import Serializer

from overseer.scrub import Scrubber, process_scrubber

KEPT_AS_WRITTEN = frozenset({"env"})


def scrubbed(value: Any, scrub: Scrubber) -> Any:
    """`value` scrubbed all through (Scrubber.deep), every `env` kept as it is."""
    return scrub.deep(value, kept=KEPT_AS_WRITTEN)


class ScrubbingSerializer(Serializer):
    """DBOS's pickle, of the scrubbed value. Rows an older overseer wrote with DBOS's own
    pickle still read: DBOS picks the reader by the name each row records."""

    def serialize(self, data: Any) -> str:
        return base64.b64encode(pickle.dumps(scrubbed(data, process_scrubber()))).decode("ascii")

    def deserialize(self, serialized_data: str) -> Any:
        return pickle.loads(base64.b64decode(serialized_data))  # noqa: S301 - our own rows

    def name(self) -> str:
        return "overseer_scrubbed_pickle"
