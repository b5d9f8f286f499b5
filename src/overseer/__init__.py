"""overseer: supervise coding-agent CLIs through a plan, with real gates and a durable audit trail."""

__version__ = "0.1.0"
