"""moto 5.2.5's records in less memory, for the embedded AWS; every answer stays the same.

moto keeps every DynamoDB item and S3 key as Python objects for the life of the process. Under
DocStore's load (bench/moto_memory.py, docs/BENCHMARKS.md) that was about 24 KiB a document stored,
half of it the layout of four kinds of moto's objects rather than their data:

- **A DynamoDB attribute is an object with an instance dictionary.** ``DynamoType`` holds two
  fields, ``type`` and ``value``; on Python 3.11 an instance keeps them in a values array (88
  bytes), and a full dictionary beside it (152 bytes) once anything reads ``__dict__``, which
  pickling does: the embedded AWS pickles every item it writes (``adapters/moto_state.py``). A
  document's record of 24 attributes holds 27 of them, and its hash and range keys two more.
  :func:`install` puts in a class with ``__slots__`` (48 bytes), moto's own class body otherwise,
  under moto's name in every module that names it; it pickles to the same record (a state file
  is read alike with and without it). ``Item`` keeps its three fields as before, but pickles and
  unpickles without making the dictionary either.
- **Every item keeps its own copy of every attribute name.** The names come out of each request's
  JSON as new strings (``"owner_id"`` is 57 bytes, once per item). The names an item's
  ``LimitedSizeDict`` is given are interned, so items share one string per name.
- **An S3 key has 35 attributes, most of them at a default.** More than Python 3.11 shares among
  the instances of a class (30), so each ``FakeKey`` has a dictionary of its own, sized for 64
  entries (1.6 KiB). Nineteen attributes hold the same default for almost every key (None, False,
  the storage class, ...) and three the same value for every key (the restore transitions, the
  model name, the buffer size): those 22 are class attributes now (:data:`KEY_DEFAULTS`), and a
  key's dictionary holds only what differs (reading one gives the same value; writing one stores it
  on the key, as before).
  The pickled key still has every attribute, so a state file reads alike with and without this.
  The names of its metadata are interned too (``LowercaseDict``), and pickled without making its
  instance dictionary; and keys with equal ACLs share one (keys share their bucket's while moto
  runs, but each key the state loader reads back after a restart held a copy of its own, 1 KB).
- **SQS remembers every receipt handle of every message deleted**, for the life of the process
  (``Queue.deleted_messages``), so that deleting a deleted message again succeeds: a 185-character
  string each, a few per document, and more for every message any change sends. They are kept as
  16-byte digests (:class:`DeletedHandles`), which answer ``in`` as the set did.

Nothing here changes what moto does with the objects, only how they are laid out; the tests compare
moto's answers with and without (``tests/adapters/test_moto_slim.py``). Install it before moto holds
any item: an item made by moto's own ``DynamoType`` class is not one of the slim class (``isinstance``
and ``type(x) is`` checks in moto tell them apart), so the embedded AWS installs it at start, before
loading its state, and tests that uninstall it use tables of their own.

docs/MOTO_UPSTREAM.md is the write-up for moto's maintainers. Pinned to moto 5.2.5 like
``adapters/moto_patches.py``: :func:`install` refuses any other release (:class:`UnsupportedMoto`).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import sys
import threading
from typing import TYPE_CHECKING, Any

import moto
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
from moto.s3.models import FakeAcl, FakeGrant, FakeGrantee, FakeKey
from moto.settings import get_s3_default_key_buffer_size
from moto.sqs.models import Queue
from moto.utilities.utils import LowercaseDict

from adapters.moto_patches import UnsupportedMoto

if TYPE_CHECKING:
    from collections.abc import Callable

#: The moto release this module was written and tested against.
MOTO_VERSION = "5.2.5"

_LOCK = threading.Lock()
#: What :func:`install` replaced, to put back: (owner, attribute name, original or _ABSENT, replacement).
_REPLACED: list[tuple[Any, str, Any, Any]] = []
_ABSENT = object()
#: moto's own ``DynamoType`` class (this module is imported before anything installs the slim one).
MOTO_DYNAMO_TYPE: type = dynamo_type.DynamoType
#: The modules whose global ``DynamoType`` is rebound: moto's and DocStore's adapters.
_MODULES = ("moto.", "adapters.")


# -- DynamoDB ----------------------------------------------------------------------------------------


def _type_state(self: Any) -> dict[str, Any]:
    """What moto's ``DynamoType`` pickles: its instance dictionary, ``type`` then ``value``."""
    return {"type": self.type, "value": self.value}


def _set_state(self: Any, state: dict[str, Any]) -> None:
    for name, value in state.items():
        setattr(self, name, value)


@functools.cache
def slim_dynamo_type() -> type:
    """moto's ``DynamoType`` class body (its methods, unchanged) with ``__slots__`` for its two fields."""
    unslotted = ("__dict__", "__weakref__")
    namespace = {name: value for name, value in vars(MOTO_DYNAMO_TYPE).items() if name not in unslotted}
    namespace["__slots__"] = ("type", "value")
    namespace["__getstate__"] = _type_state
    namespace["__setstate__"] = _set_state
    return type(MOTO_DYNAMO_TYPE.__name__, MOTO_DYNAMO_TYPE.__bases__, namespace)


def _item_state(self: Any) -> dict[str, Any]:
    """What moto's ``Item`` pickles (its instance dictionary), read without making that dictionary."""
    return {"hash_key": self.hash_key, "range_key": self.range_key, "attrs": self.attrs}


def _interning(checked: Callable[[Any, Any, Any], None]) -> Callable[[Any, Any, Any], None]:
    def __setitem__(self: Any, key: Any, value: Any) -> None:  # noqa: N807 (the method it replaces)
        checked(self, sys.intern(key) if type(key) is str else key, value)

    return __setitem__


def _rebind(old: Any, new: Any) -> None:
    """Every moto and adapters module whose global ``DynamoType`` is ``old`` now names ``new``."""
    for name, module in list(sys.modules.items()):
        if name.startswith(_MODULES) and getattr(module, "__dict__", {}).get("DynamoType") is old:
            _replace(module, "DynamoType", new)


# -- S3 ----------------------------------------------------------------------------------------------

#: A ``FakeKey``'s attributes that usually hold moto's default, with that default: a class
#: attribute each while installed, and left out of a key's own dictionary while they hold it.
KEY_DEFAULTS: dict[str, Any] = {
    "_status": None,
    "_tick": 0,
    "_transitions": [(None, "IN_PROGRESS"), ("IN_PROGRESS", "RESTORED")],
    "model_name": "s3::keyrestore",
    "website_redirect_location": None,
    "checksum_algorithm": None,
    "_storage_class": "STANDARD",
    "_expiry": None,
    "_version_id": "null",
    "_is_versioned": False,
    "multipart": None,
    "_max_buffer_size": get_s3_default_key_buffer_size(),
    "disposed": False,
    "encryption": None,
    "kms_key_id": None,
    "bucket_key_enabled": None,
    "lock_mode": None,
    "lock_legal_status": None,
    "lock_until": None,
    "checksum_value": None,
    "checksum_type": None,
    "checksum_parts": None,
}
#: The attributes of a key that name its account, region and bucket: one string for all keys.
KEY_SHARED_STRINGS = ("account_id", "region_name", "partition", "bucket_name")


def _is_default(name: str, value: Any) -> bool:
    default = KEY_DEFAULTS.get(name, _ABSENT)
    return value is default or (type(value) is type(default) and value == default)


#: One ``FakeAcl`` for each ACL value the keys hold, by :func:`_acl_value`.
_ACLS: dict[tuple[Any, ...], Any] = {}


def _acl_value(acl: Any) -> tuple[Any, ...] | None:
    """What an ACL says (its grants: grantees and permissions, in order); None for anything but
    moto's plain ``FakeAcl`` of ``FakeGrant`` s of ``FakeGrantee`` s."""
    if type(acl) is not FakeAcl:
        return None
    value = []
    for grant in acl.grants:
        if type(grant) is not FakeGrant or not all(type(grantee) is FakeGrantee for grantee in grant.grantees):
            return None
        grantees = tuple((grantee.id, grantee.uri, grantee.display_name) for grantee in grant.grantees)
        value.append((grantees, tuple(grant.permissions)))
    return tuple(value)


def _shared_acl(acl: Any) -> Any:
    """One object for every key's equal ACL. moto never changes an ACL in place (``set_acl``
    replaces it), and its keys share their bucket's while it runs; a key unpickled alone (the
    state loader, after a restart) would hold a copy of its own, about 1 KB."""
    value = _acl_value(acl)
    if value is None:
        return acl
    with _LOCK:
        return _ACLS.setdefault(value, acl)


def compact(key: Any) -> None:
    """Leave out of ``key``'s dictionary what holds its class's default, and share the strings
    that name its account, region and bucket, and its ACL with equal ones. Its attributes read
    as before."""
    kept = {name: value for name, value in key.__dict__.items() if not _is_default(name, value)}
    for name in KEY_SHARED_STRINGS:
        value = kept.get(name)
        if type(value) is str:
            kept[name] = sys.intern(value)
    if "acl" in kept:
        kept["acl"] = _shared_acl(kept["acl"])
    key.__dict__ = kept


def _compacting_init(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 (the method it replaces)
        original(self, *args, **kwargs)
        compact(self)

    return __init__


def _full_state(original: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    @functools.wraps(original)
    def __getstate__(self: Any) -> dict[str, Any]:  # noqa: N807 (the method it replaces)
        state = original(self)
        missing = {name: default for name, default in KEY_DEFAULTS.items() if name not in state}
        if missing:
            state = {**state, **missing}
        return state

    return __getstate__


def _compacting_setstate(original: Callable[[Any, dict[str, Any]], None]) -> Callable[[Any, dict[str, Any]], None]:
    @functools.wraps(original)
    def __setstate__(self: Any, state: dict[str, Any]) -> None:  # noqa: N807 (the method it replaces)
        original(self, state)
        compact(self)

    return __setstate__


def _interned_lower(self: Any, key: str) -> str:
    """``LowercaseDict._keytransform``, one string per name: the metadata names of every key."""
    return sys.intern(key.lower())


def _metadata_state(self: Any) -> dict[str, Any]:
    """What moto's ``LowercaseDict`` pickles (its instance dictionary), read without making it."""
    return {"store": self.store}


def _set_metadata_state(self: Any, state: dict[str, Any]) -> None:
    self.store = {sys.intern(name) if type(name) is str else name: value for name, value in state["store"].items()}


# -- SQS ---------------------------------------------------------------------------------------------


class DeletedHandles:
    """The receipt handles of a queue's deleted messages, as moto's ``set`` of them answers ``in``:
    each kept as a 16-byte BLAKE2 digest (84 bytes with its place in the set, against 269 for
    the 185-character handle). moto keeps every one for the life of the process, so that deleting a
    deleted message again succeeds; the embedded AWS deletes a few messages per document."""

    __slots__ = ("_digests",)

    def __init__(self, handles: Any = ()) -> None:
        self._digests: set[bytes | None] = set()
        self.update(handles)

    @staticmethod
    def _digest(handle: Any) -> bytes | None:
        if handle is None:
            return None
        return hashlib.blake2b(str(handle).encode(), digest_size=16).digest()

    def __contains__(self, handle: object) -> bool:
        return (handle is None or isinstance(handle, str)) and self._digest(handle) in self._digests

    def __len__(self) -> int:
        return len(self._digests)

    def add(self, handle: Any) -> None:
        self._digests.add(self._digest(handle))

    def update(self, handles: Any) -> None:
        self._digests.update(self._digest(handle) for handle in handles)


def _deleted_handles(self: Any) -> Any:
    return self.__dict__["deleted_messages"]


def _set_deleted_handles(self: Any, handles: Any) -> None:
    self.__dict__["deleted_messages"] = handles if isinstance(handles, DeletedHandles) else DeletedHandles(handles)


# -- installing --------------------------------------------------------------------------------------


def _replace(owner: Any, name: str, value: Any) -> None:
    _REPLACED.append((owner, name, owner.__dict__.get(name, _ABSENT), value))
    setattr(owner, name, value)


def install() -> None:
    """Lay moto's records out in less memory; a second call does nothing. Raises
    :class:`UnsupportedMoto` (and changes nothing) on any moto but :data:`MOTO_VERSION`.

    The S3 part wraps ``FakeKey``'s pickling as it finds it: install it after
    ``adapters.moto_blobs``, which replaces that pickling."""
    installed_version = getattr(moto, "__version__", "unknown")
    if installed_version != MOTO_VERSION:
        raise UnsupportedMoto(
            f"adapters/moto_slim.py is written for moto {MOTO_VERSION}, but moto {installed_version} "
            f"is installed: pin moto[server]=={MOTO_VERSION} (pyproject.toml) or port it "
            "(docs/MOTO_UPSTREAM.md)."
        )
    with _LOCK:
        if _REPLACED:
            return
        clashes = sorted(name for name in KEY_DEFAULTS if name in vars(FakeKey))
        if clashes or "deleted_messages" in vars(Queue):
            raise UnsupportedMoto(f"moto's classes already define {clashes}: adapters/moto_slim.py needs porting")
        _rebind(MOTO_DYNAMO_TYPE, slim_dynamo_type())
        _replace(Item, "__getstate__", _item_state)
        _replace(Item, "__setstate__", _set_state)
        _replace(LimitedSizeDict, "__setitem__", _interning(LimitedSizeDict.__setitem__))
        _replace(LowercaseDict, "_keytransform", _interned_lower)
        _replace(LowercaseDict, "__getstate__", _metadata_state)
        _replace(LowercaseDict, "__setstate__", _set_metadata_state)
        for name, default in KEY_DEFAULTS.items():
            _replace(FakeKey, name, default)
        _replace(Queue, "deleted_messages", property(_deleted_handles, _set_deleted_handles))
        _replace(FakeKey, "__init__", _compacting_init(FakeKey.__init__))
        _replace(FakeKey, "__getstate__", _full_state(FakeKey.__getstate__))
        _replace(FakeKey, "__setstate__", _compacting_setstate(FakeKey.__setstate__))


def uninstall() -> None:
    """Put moto's own code back (tests and benchmarks compare the two in one run); idempotent.
    S3 keys made meanwhile get their defaults back in their own dictionaries; DynamoDB items keep
    the slim class, which moto's own code does not take for its own: drop their tables first.
    What another patch replaced since (``adapters.moto_blobs`` installed afterwards) stays its."""
    with _LOCK:
        if _REPLACED:
            _expand_keys()
        while _REPLACED:
            owner, name, original, replacement = _REPLACED.pop()
            if owner.__dict__.get(name, _ABSENT) is not replacement:
                continue
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def _expand_keys() -> None:
    """Every live ``FakeKey`` holds its defaults again: moto's class has none to fall back on."""
    for obj in gc.get_objects():
        if type(obj) is FakeKey:
            missing = {name: default for name, default in KEY_DEFAULTS.items() if name not in obj.__dict__}
            obj.__dict__.update(missing)


def installed() -> bool:
    return dynamo_type.DynamoType is not MOTO_DYNAMO_TYPE
