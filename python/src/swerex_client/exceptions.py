"""SWE-ReX's exception classes (``swerex.exceptions``), the 511 envelope that carries them over HTTP, and the
error of the control-plane API.

A runtime server answers a failed call with HTTP 511 and ``{"swerexception": {message, class_path, traceback,
extra_info}}``; :func:`exception_from_transfer` turns it back into the class it names, as SWE-ReX's
``RemoteRuntime`` does: ``swerex.exceptions.X`` becomes the class of the same name here, ``builtins.X`` the
builtin (``FileNotFoundError``, ...), anything else a :class:`SwerexException`. ``extra_info`` is kept
(``BashIncorrectSyntaxError.extra_info`` has ``bash_stdout`` and ``bash_stderr``).
"""

from __future__ import annotations

import builtins
from typing import Any


class SwerexException(Exception):
    """Base of every SWE-ReX error."""

    extra_info: dict[str, Any]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.extra_info = {}


class SessionNotInitializedError(SwerexException, RuntimeError):
    pass


class NonZeroExitCodeError(SwerexException, RuntimeError):
    pass


class BashIncorrectSyntaxError(SwerexException, RuntimeError):
    def __init__(self, message: str, *, extra_info: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.extra_info = extra_info or {}


class CommandTimeoutError(SwerexException, RuntimeError, TimeoutError):
    pass


class NoExitCodeError(SwerexException, RuntimeError):
    pass


class SessionExistsError(SwerexException, ValueError):
    pass


class SessionDoesNotExistError(SwerexException, ValueError):
    pass


class DeploymentNotStartedError(SwerexException, RuntimeError):
    def __init__(self, message: str = "Deployment not started") -> None:
        super().__init__(message)


class DeploymentStartupError(SwerexException, RuntimeError):
    pass


class DockerPullError(DeploymentStartupError):
    pass


class DummyOutputsExhaustedError(SwerexException, RuntimeError):
    pass


class SwerexAPIError(SwerexException):
    """An HTTP error answer (other than the runtime's 511): auth, validation, not found, limits, ...

    ``status`` is the HTTP status, ``message`` the server's message, ``code`` its machine-readable code when it
    gave one, ``body`` the decoded JSON (or the text) of the answer.
    """

    def __init__(self, status: int, message: str, *, code: str | None = None, body: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.code = code
        self.body = body


_SWEREX_CLASSES: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        SwerexException,
        SessionNotInitializedError,
        NonZeroExitCodeError,
        BashIncorrectSyntaxError,
        CommandTimeoutError,
        NoExitCodeError,
        SessionExistsError,
        SessionDoesNotExistError,
        DeploymentNotStartedError,
        DeploymentStartupError,
        DockerPullError,
        DummyOutputsExhaustedError,
    )
}


def exception_from_transfer(transfer: dict[str, Any]) -> Exception:
    """The exception a 511 ``swerexception`` envelope names, with its message and ``extra_info``."""
    message = str(transfer.get("message", ""))
    class_path = str(transfer.get("class_path", ""))
    module, _, name = class_path.rpartition(".")
    cls: type[Exception] | None = None
    if module == "swerex.exceptions":
        cls = _SWEREX_CLASSES.get(name)
    elif module == "builtins":
        candidate = getattr(builtins, name, None)
        if isinstance(candidate, type) and issubclass(candidate, Exception):
            cls = candidate
    exc: Exception
    try:
        exc = cls(message) if cls is not None else SwerexException(message)
    except TypeError:
        # A builtin whose constructor wants more than a message (UnicodeDecodeError).
        exc = SwerexException(message)
    exc.extra_info = dict(transfer.get("extra_info") or {})  # type: ignore[attr-defined]
    exc.class_path = class_path  # type: ignore[attr-defined]
    exc.remote_traceback = str(transfer.get("traceback", ""))  # type: ignore[attr-defined]
    return exc


__all__ = [
    "BashIncorrectSyntaxError",
    "CommandTimeoutError",
    "DeploymentNotStartedError",
    "DeploymentStartupError",
    "DockerPullError",
    "DummyOutputsExhaustedError",
    "NoExitCodeError",
    "NonZeroExitCodeError",
    "SessionDoesNotExistError",
    "SessionExistsError",
    "SessionNotInitializedError",
    "SwerexAPIError",
    "SwerexException",
    "exception_from_transfer",
]
