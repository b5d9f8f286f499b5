"""The git workspace: exact checkpoints, restore, change lists and task commits."""

from overseer.workspace.git import FileChange, GitWorkspace

__all__ = ["FileChange", "GitWorkspace"]
