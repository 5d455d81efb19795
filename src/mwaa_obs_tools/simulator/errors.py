"""The service's errors: raised anywhere in the simulator, answered by the API server as the service would."""

from __future__ import annotations


class ServiceError(Exception):
    """An API error: `code` is the error shape's name (ValidationException, ResourceNotFoundException...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def status(self) -> int:
        """The HTTP status the API server answers the error with."""
        return 404 if self.code == "ResourceNotFoundException" else 400
