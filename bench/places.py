"""Where the benchmark puts each backend's data, from the facts in ``obsstore.registry``:
a file per trial for file databases, a scratch database on the server for server ones."""

from __future__ import annotations

from obsstore import registry


def is_server(kind: str) -> bool:
    """Whether the backend is a database server (which needs a scratch database)."""
    profile = registry.get(kind).profile
    return profile is not None and profile.file_suffix is None


def is_sql(kind: str) -> bool:
    return registry.get(kind).profile is not None


def embedded_url(kind: str, directory: str, stem: str) -> str | None:
    """A URL of the kind's engine embedded in this process (a server kind's file mode, such as
    ``chdb:///<directory>``), or None where it has none."""
    backend = registry.get(kind)
    if not backend.mode_url_drivers:
        return None
    return f"{backend.mode_url_drivers[0]}:///{directory}/{stem}"


def file_url(kind: str, directory: str, stem: str) -> str:
    """A URL of a new file database (or the kind itself for the memory backend)."""
    backend = registry.get(kind)
    if backend.profile is None:
        return kind
    assert backend.profile.file_suffix is not None, f"{kind} is a server backend"
    return f"{backend.url_scheme}:///{directory}/{stem}{backend.profile.file_suffix}"


def driver_target(kind: str, url: str) -> str:
    """What a raw-driver baseline opens: a server's URL, or a file database's path."""
    return url if is_server(kind) else url.split(":///", 1)[1]
