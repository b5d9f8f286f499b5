"""`overseer serve`: the runs of a repository in a browser, live, with breakpoints to answer."""

from overseer.web.app import create_app

__all__ = ["create_app"]
