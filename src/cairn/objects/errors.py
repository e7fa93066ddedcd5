"""Typed errors of the object store, named after their S3 error codes where one exists.

Each :class:`S3Error` subclass carries the S3 ``Code`` and HTTP status so the REST layer can
render it as AWS does; the internal ones (erasure, drive, placement) are plain exceptions that
map to ``InternalError``/``ServiceUnavailable`` at the edge.
"""

from __future__ import annotations


class ObjectStoreError(Exception):
    """Base of every cairn.objects error."""


class ErasureError(ObjectStoreError):
    """Bad erasure parameters, or too few shards to rebuild a stripe."""


class DriveError(ObjectStoreError):
    """A drive failed (offline, full, I/O error)."""


class DriveOfflineError(DriveError):
    """The drive is not reachable."""


class DriveFullError(DriveError):
    """No space left on the drive (ENOSPC); nothing partial is left behind."""


class ShardNotFoundError(DriveError):
    """The drive holds no shard under that id."""


class ShardCorruptError(DriveError):
    """The shard's checksum does not match its bytes (bit rot, torn write)."""


class S3Error(ObjectStoreError):
    """An error with an S3 error code and HTTP status."""

    code = "InternalError"
    status = 500

    def __init__(self, message: str = "", **detail: str) -> None:
        text = message or (self.__doc__ or self.code).strip()
        super().__init__(text)
        self.message = text
        self.detail = detail
        self.headers: dict[str, str] = {}  # extra response headers (x-amz-delete-marker...)


def _s3(name: str, status: int, doc: str) -> type[S3Error]:
    return type(name, (S3Error,), {"code": name, "status": status, "__doc__": doc})


InternalError = _s3("InternalError", 500, "We encountered an internal error.")
NoSuchBucket = _s3("NoSuchBucket", 404, "The specified bucket does not exist.")
NoSuchKey = _s3("NoSuchKey", 404, "The specified key does not exist.")
NoSuchVersion = _s3("NoSuchVersion", 404, "The specified version does not exist.")
MethodNotAllowed = _s3(
    "MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
NoSuchUpload = _s3("NoSuchUpload", 404, "The specified multipart upload does not exist.")
BucketAlreadyOwnedByYou = _s3(
    "BucketAlreadyOwnedByYou", 409, "The bucket already exists and you own it.")
BucketNotEmpty = _s3("BucketNotEmpty", 409, "The bucket you tried to delete is not empty.")
InvalidBucketName = _s3("InvalidBucketName", 400, "The specified bucket is not valid.")
KeyTooLongError = _s3("KeyTooLongError", 400, "Your key is too long.")
InvalidArgument = _s3("InvalidArgument", 400, "Invalid argument.")
PreconditionFailed = _s3(
    "PreconditionFailed", 412, "At least one of the preconditions you specified did not hold.")
InvalidRange = _s3("InvalidRange", 416, "The requested range is not satisfiable.")
SlowDown = _s3("SlowDown", 503, "Reduce your request rate.")
ServiceUnavailable = _s3("ServiceUnavailable", 503, "Not enough drives are available.")
InsufficientStorage = _s3(
    "InsufficientStorage", 507, "Not enough free space on the drives to store the object.")
