"""The policy files as parsed policies, read again only when a file or a template changed.

The worker chooses a policy for every new case and the API checks every invoice it is sent against them: reading
and validating every YAML file each time would cost a burst (or a 1,000-invoice request) most of its time.
"""

import os
import threading
from pathlib import Path

from relance.domain.policy import Policy, load_policies


class PolicyFiles:
    def __init__(self, policy_dir: Path, template_dir: Path) -> None:
        self.policy_dir = policy_dir
        self.template_dir = template_dir
        self._loaded: tuple[tuple[object, ...], dict[str, Policy]] | None = None
        self._lock = threading.Lock()  # activity threads and request handlers may ask at once

    def policies(self) -> dict[str, Policy]:
        """The policies as the files are now (a broken file raises PolicyError, as `load_policies` does)."""
        key = _files_state(self.policy_dir, self.template_dir)
        with self._lock:
            loaded = self._loaded
            if loaded is not None and loaded[0] == key:
                return loaded[1]
            policies = load_policies(self.policy_dir, self.template_dir)
            self._loaded = (key, policies)
            return policies


def _files_state(policy_dir: Path, template_dir: Path) -> tuple[object, ...]:
    """What changes when a policy file is added, removed or edited, or a template added or removed (a policy
    is checked against the templates that exist; their text is read when a message is written)."""
    state: list[object] = []
    for folder in (policy_dir, template_dir, *_subfolders(template_dir)):
        try:
            state.append((str(folder), folder.stat().st_mtime_ns))
        except FileNotFoundError:
            state.append((str(folder), None))
    if policy_dir.is_dir():
        for entry in sorted(os.scandir(policy_dir), key=lambda e: e.name):
            stat = entry.stat()
            state.append((entry.name, stat.st_mtime_ns, stat.st_size))
    return tuple(state)


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
