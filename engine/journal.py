"""The exchange's journal: every command, in execution order, so that a run can be replayed.

A `JournalingExchange` is an `Exchange` that appends each command it executes to a `Journal`;
`replay` rebuilds a fresh `Exchange` from the journal alone and re-issues every command, which
reproduces every event and the final state exactly (the exchange is deterministic: same
products, settings and commands in the same order give the same events and the same ids).
A plain `Exchange` knows nothing of journals and pays nothing for them.

File format (version 1). A sequence of frames, each
`length (4 bytes, big-endian unsigned) | crc32 of the payload (4 bytes, big-endian) | payload`,
where each payload is one msgspec MessagePack record: a frozen, tagged, array-like Struct
(`[tag, field, ...]`). The first record is a `JournalHeader` (tag "rexsim-journal", the
format version, the products and the `ExchangeSettings`); every later one is a command, named
by the tag of the exchange method it calls (`"submit_limit"`, `"cancel"`, ...) with that
method's arguments in full, integers and enum values exactly as given.

What is journaled, and why ids come out the same:

- every call of a command method (`add_member`, `suspend_member`, `reinstate_member`,
  `begin_day`, `open_market`, `close_market`, `submit_limit`, `submit_market`, `cancel`,
  `amend`, `register_negotiated`, `open_block_auction`, `bid_block_auction`,
  `settle_block_auction`, `set_band`, `set_channel_open`) that the exchange answered,
  refused requests included:
  a refused order may still use up the id its `Rejected` names, so replay re-issues the
  refusal too, and ids are never written into calls that did not give one. Order,
  auction and bid ids therefore come out of the replayed exchange's own counter, as they did.
- a request a listener makes from inside its callback is a command like any other, journaled
  when it executes: after the request whose events are being delivered (its record is
  written once that request is applied, before any of its events is delivered). A command
  the exchange issues to itself while applying another would not be journaled (none does).
- a call that raises for misuse (`ValueError`, `TypeError`) is not journaled: the exchange
  changed nothing but, at most, its id counter, and should it have used up ids before
  raising, an `IdsUsed` record keeps the replayed counter in step. Arguments a record cannot
  hold exactly (a member id that is neither an int nor a str, a float price, an int beyond
  64 bits) are refused with `TypeError` before the exchange sees them; a plain `Exchange`
  refuses the same arguments (`TypeError`, or `ValueError` for an int outside the signed
  64-bit range), so journaling never changes what a request does.

Writing is batched: records collect in memory and reach the file at each `flush()`, at each
`close_market` (so a crash loses at most the day in progress), when the buffer passes
`buffer_size` bytes (after a command, never inside one), and on `close()`.

Reading tolerates a crash: a journal whose last frame is cut short or damaged (a length that
runs past the end, a bad checksum, zeros), with no whole record anywhere after it, replays up
to its last whole record and reports how many bytes it dropped. A frame whose length or
checksum does not hold *with a whole record after it* (a frame of fitting length, a checksum
that holds, a payload that decodes; found by searching forward byte by byte) is damage, not a
crash: a `JournalError` naming the record and its byte offset, never a silent loss of the
records after it. So is a record whose checksum holds but that does not decode, and a missing
or second header.

Cost: a plain `Exchange` runs none of this code. Journaling adds about 11,000 instructions to
a request (the argument checks, one msgpack encode, a crc32 and a buffer append), measured
with callgrind against about 15,000 for a plain request on a mixed stream.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO, NamedTuple

import msgspec

from engine.events import Event
from engine.exchange import Exchange, ExchangeSettings
from engine.orders import Channel, Side, TimeInForce
from engine.product import Product

__all__ = [
    "FORMAT_VERSION",
    "Command",
    "Journal",
    "JournalContents",
    "JournalError",
    "JournalHeader",
    "JournalingExchange",
    "Replayed",
    "ReplayReport",
    "apply_command",
    "is_journal",
    "read_journal",
    "replay",
]

FORMAT_VERSION = 1
HEADER_TAG = "rexsim-journal"
MAX_RECORD_BYTES = 1 << 26  # a longer length prefix is corruption, not a record cut short
_FRAME = struct.Struct(">II")  # payload length, crc32 of the payload

Member = int | str
GTC = TimeInForce.GTC
ONLINE = Channel.ONLINE


class JournalError(ValueError):
    """A journal that cannot be read or replayed: not a journal, corrupt, or another version."""


# ---------------------------------------------------------------------------- records


class JournalHeader(msgspec.Struct, frozen=True, tag=HEADER_TAG, array_like=True):
    """The first record: what a fresh exchange needs to replay the commands that follow."""

    version: int
    products: list[Product]
    settings: ExchangeSettings


class Command(msgspec.Struct, frozen=True, tag=True, array_like=True, gc=False):
    """Base of the command records; each is tagged with the exchange method it calls."""


class AddMember(Command, frozen=True, tag="add_member", array_like=True, gc=False):
    """`Exchange.add_member`."""

    member_id: Member
    joined: int


class SuspendMember(Command, frozen=True, tag="suspend_member", array_like=True, gc=False):
    """`Exchange.suspend_member`."""

    member_id: Member
    time: int


class ReinstateMember(Command, frozen=True, tag="reinstate_member", array_like=True, gc=False):
    """`Exchange.reinstate_member`."""

    member_id: Member


class BeginDay(Command, frozen=True, tag="begin_day", array_like=True, gc=False):
    """`Exchange.begin_day`; `products` None means every product."""

    time: int
    products: list[str] | None


class OpenMarket(Command, frozen=True, tag="open_market", array_like=True, gc=False):
    """`Exchange.open_market`."""

    time: int
    products: list[str] | None


class CloseMarket(Command, frozen=True, tag="close_market", array_like=True, gc=False):
    """`Exchange.close_market`."""

    time: int
    products: list[str] | None


class SubmitLimit(Command, frozen=True, tag="submit_limit", array_like=True, gc=False):
    """`Exchange.submit_limit`; `order_id` only when the caller gave one."""

    member: Member
    product: str
    side: Side
    price: int
    qty: int
    tif: TimeInForce
    post_only: bool
    channel: Channel
    time: int
    order_id: int | None


class SubmitMarket(Command, frozen=True, tag="submit_market", array_like=True, gc=False):
    """`Exchange.submit_market`; `order_id` only when the caller gave one."""

    member: Member
    product: str
    side: Side
    qty: int
    protection: int | None
    channel: Channel
    time: int
    order_id: int | None


class Cancel(Command, frozen=True, tag="cancel", array_like=True, gc=False):
    """`Exchange.cancel`."""

    member: Member
    order_id: int
    time: int


class Amend(Command, frozen=True, tag="amend", array_like=True, gc=False):
    """`Exchange.amend`."""

    member: Member
    order_id: int
    price: int | None
    qty: int | None
    time: int


class RegisterNegotiated(Command, frozen=True, tag="register_negotiated", array_like=True,
                         gc=False):
    """`Exchange.register_negotiated`."""

    buyer: Member
    seller: Member
    product: str
    price: int
    qty: int
    time: int


class OpenBlockAuction(Command, frozen=True, tag="open_block_auction", array_like=True,
                       gc=False):
    """`Exchange.open_block_auction`; `uniform` and `time` None as when left to default."""

    seller: Member
    product: str
    qty: int
    reserve_price: int
    start: int
    end: int
    uniform: bool | None
    channel: Channel
    time: int | None


class BidBlockAuction(Command, frozen=True, tag="bid_block_auction", array_like=True, gc=False):
    """`Exchange.bid_block_auction`."""

    member: Member
    auction_id: int
    price: int
    qty: int
    time: int
    channel: Channel


class SettleBlockAuction(Command, frozen=True, tag="settle_block_auction", array_like=True,
                         gc=False):
    """`Exchange.settle_block_auction`."""

    auction_id: int
    time: int


class SetBand(Command, frozen=True, tag="set_band", array_like=True, gc=False):
    """`Exchange.set_band`."""

    product: str
    band_pct: int | None
    band_abs: int | None


class SetChannelOpen(Command, frozen=True, tag="set_channel_open", array_like=True, gc=False):
    """`Exchange.set_channel_open`."""

    channel: Channel
    is_open: bool
    time: int


class IdsUsed(Command, frozen=True, tag="ids_used", array_like=True, gc=False):
    """A request raised after the exchange had used up ids: its id counter stood at `next_id`."""

    next_id: int


COMMANDS: tuple[type[Command], ...] = (
    AddMember, SuspendMember, ReinstateMember, BeginDay, OpenMarket, CloseMarket, SubmitLimit,
    SubmitMarket, Cancel, Amend, RegisterNegotiated, OpenBlockAuction, BidBlockAuction,
    SettleBlockAuction, SetBand, SetChannelOpen, IdsUsed,
)

_encode = msgspec.msgpack.Encoder().encode
_crc32 = zlib.crc32
_exchange_done = Exchange._done  # the delivery a journaled request ends in
_DECODER = msgspec.msgpack.Decoder(JournalHeader | AddMember | SuspendMember | ReinstateMember
                                   | BeginDay | OpenMarket | CloseMarket | SubmitLimit
                                   | SubmitMarket | Cancel | Amend | RegisterNegotiated
                                   | OpenBlockAuction | BidBlockAuction | SettleBlockAuction
                                   | SetBand | SetChannelOpen | IdsUsed)


# ---------------------------------------------------------------------------- writing


class Journal:
    """An append-only journal file: a header, then one frame per command, written in batches.

    `file` is a path (created or truncated) or a binary file object open for writing (flushed,
    and left open, by `close`). `fsync=True` also asks the OS to put each flushed batch on disk.
    """

    def __init__(self, file: str | os.PathLike[str] | BinaryIO, *, fsync: bool = False,
                 buffer_size: int = 1 << 20) -> None:
        if type(buffer_size) is not int or buffer_size < 0:
            raise ValueError(f"buffer_size must be an int >= 0, got {buffer_size!r}")
        if isinstance(file, str | os.PathLike):
            self._file: BinaryIO = open(file, "wb")  # closed by close()
            self._owned = True
        elif callable(getattr(file, "write", None)):
            self._file = file
            self._owned = False
        else:
            raise TypeError(f"file must be a path or a binary file object, got {file!r}")
        self.fsync = fsync
        self.buffer_size = buffer_size
        self._buf = bytearray()
        self._closed = False
        self.header: JournalHeader | None = None

    @property
    def closed(self) -> bool:
        """True once `close` has run: nothing more can be appended."""
        return self._closed

    def start(self, header: JournalHeader) -> None:
        """Write the header (first, and once) and flush it, so the file is a journal at once."""
        if not isinstance(header, JournalHeader):
            raise TypeError(f"header must be a JournalHeader, got {header!r}")
        if self.header is not None:
            raise ValueError("this journal already has its header: one journal, one exchange")
        self._check_open()
        self.header = header
        self._append(_encode(header))
        self.flush()

    def append(self, command: Command) -> None:
        """Append one command record to the batch (it reaches the file at the next flush)."""
        if not isinstance(command, Command):
            raise TypeError(f"command must be a journal Command, got {command!r}")
        if self.header is None:
            raise ValueError("a journal's header comes first: call start() before append()")
        self._check_open()
        self._append(_encode(command))

    def _append(self, payload: bytes) -> None:
        buf = self._buf
        buf += _FRAME.pack(len(payload), _crc32(payload))
        buf += payload

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the journal is closed")

    def flush(self) -> None:
        """Write the batch to the file (and to disk with `fsync`)."""
        self._check_open()
        f = self._file
        if self._buf:
            f.write(self._buf)
            self._buf.clear()
        f.flush()
        if self.fsync:
            os.fsync(f.fileno())

    def close(self) -> None:
        """Flush, then close the file if the journal opened it. Closing twice is harmless."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._owned:
                self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Kind(NamedTuple):
    what: str
    ok: Callable[[Any], bool]


_INT = _Kind("an int", lambda v: type(v) is int)
_OPT_INT = _Kind("an int or None", lambda v: v is None or type(v) is int)
_MEMBER = _Kind("an int or str", lambda v: type(v) is int or type(v) is str)
_STR = _Kind("a str", lambda v: type(v) is str)
_SIDE = _Kind("a Side", lambda v: type(v) is Side)
_TIF = _Kind("a TimeInForce", lambda v: type(v) is TimeInForce)
_CHANNEL = _Kind("a Channel", lambda v: type(v) is Channel)
_BOOL = _Kind("a bool", lambda v: type(v) is bool)
_OPT_BOOL = _Kind("a bool or None", lambda v: v is None or type(v) is bool)


def _unjournalable(method: str, *checks: tuple[str, Any, _Kind]) -> TypeError:
    """The TypeError for the first argument a record cannot hold exactly."""
    for name, value, kind in checks:
        if not kind.ok(value):
            return TypeError(f"{method}: {name} must be {kind.what} to be journaled, "
                             f"got {type(value).__name__} {value!r}")
    raise AssertionError("_unjournalable called without a bad argument")  # pragma: no cover


def _codes(method: str, products: Iterable[str] | None) -> list[str] | None:
    """A session step's `products` as the list a record holds (None: every product)."""
    if products is None:
        return None
    if isinstance(products, str):
        raise TypeError(f"{method}: products must be a list of codes, not one string")
    codes = list(products)
    for code in codes:
        if type(code) is not str:
            raise TypeError(f"{method}: product codes must be str to be journaled, got {code!r}")
    return codes


def _member_ok(value: Any) -> bool:
    return type(value) is int or type(value) is str


class JournalingExchange(Exchange):
    """An `Exchange` that journals every command it executes (see the module docstring).

    `journal` is a `Journal` (not yet started) or a path / binary file for a new one, owned
    and closed by this exchange. Each command method checks that its arguments can be
    recorded, encodes its record, then runs the exchange's own method; the record joins the
    journal's batch once the request is applied, before its events are delivered, so requests
    listeners make from their callbacks follow it in execution order.
    """

    def __init__(self, products: Iterable[Product], settings: ExchangeSettings | None = None,
                 *, journal: Journal | str | os.PathLike[str] | BinaryIO) -> None:
        super().__init__(products, settings)
        self.journal = journal if isinstance(journal, Journal) else Journal(journal)
        self._applying = False  # a journaled command is being applied (not yet delivering)
        self._unwritten: bytes | None = None  # its encoded record, until it is written
        self.journal.start(JournalHeader(FORMAT_VERSION, self.products, self.settings))

    def close(self) -> None:
        """Flush and close the journal; the exchange can still be queried, not commanded."""
        self.journal.close()

    def __enter__(self) -> JournalingExchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the journaling core

    def _run(self, record: Command, method: Callable[..., Any], *args: Any, **kwargs: Any
             ) -> Any:
        """Run one command method with its record journaled in execution order."""
        journal = self.journal
        if journal._closed:
            raise ValueError("the journal is closed: this exchange takes no more commands")
        try:
            payload = _encode(record)
        except OverflowError:  # an int beyond 64 bits: ValueError, as the exchange says
            raise ValueError(f"{record.__struct_config__.tag}: an int outside the signed "
                             f"64-bit range cannot be journaled (nor traded)") from None
        except msgspec.EncodeError as exc:
            raise TypeError(f"{record.__struct_config__.tag}: cannot be journaled: {exc}"
                            ) from None
        self._applying = True
        self._unwritten = payload
        next_id = self._next_id
        try:
            result = method(*args, **kwargs)
        except BaseException:
            if self._unwritten is payload:  # refused for misuse before it was applied
                self._unwritten = None
                self._applying = False
                if self._next_id != next_id:  # ... yet it used up ids: keep replay in step
                    journal.append(IdsUsed(self._next_id))
            raise  # (otherwise a listener raised: the command was applied and journaled)
        if self._unwritten is payload:  # applied without delivering (add_member, reinstate)
            self._write()
        if len(journal._buf) > journal.buffer_size:
            journal.flush()
        return result

    def _write(self) -> None:
        """Add the applied command's record to the journal's batch; commands may follow."""
        payload = self._unwritten
        self._unwritten = None
        self._applying = False
        buf = self.journal._buf
        buf += _FRAME.pack(len(payload), _crc32(payload))
        buf += payload

    def _done(self, events: list[Event]) -> list[Event]:
        """The request is applied: journal it now, before its events reach any listener."""
        payload = self._unwritten
        if payload is not None:  # self._write(), inlined: this runs on every request
            self._unwritten = None
            self._applying = False
            buf = self.journal._buf
            buf += _FRAME.pack(len(payload), _crc32(payload))
            buf += payload
        return _exchange_done(self, events)

    # ------------------------------------------------------------------ members

    def add_member(self, member_id: int | str, *, joined: int = 0) -> None:
        if self._applying:
            return Exchange.add_member(self, member_id, joined=joined)
        if not _member_ok(member_id) or type(joined) is not int:
            raise _unjournalable("add_member", ("member_id", member_id, _MEMBER),
                                 ("joined", joined, _INT))
        return self._run(AddMember(member_id, joined), Exchange.add_member, self, member_id,
                         joined=joined)

    def suspend_member(self, member_id: int | str, *, time: int) -> list[Event]:
        if self._applying:
            return Exchange.suspend_member(self, member_id, time=time)
        if not _member_ok(member_id) or type(time) is not int:
            raise _unjournalable("suspend_member", ("member_id", member_id, _MEMBER),
                                 ("time", time, _INT))
        return self._run(SuspendMember(member_id, time), Exchange.suspend_member, self,
                         member_id, time=time)

    def reinstate_member(self, member_id: int | str) -> list[Event]:
        if self._applying:
            return Exchange.reinstate_member(self, member_id)
        if not _member_ok(member_id):
            raise _unjournalable("reinstate_member", ("member_id", member_id, _MEMBER))
        return self._run(ReinstateMember(member_id), Exchange.reinstate_member, self, member_id)

    # ------------------------------------------------------------------ the trading day

    def _session_step(self, record: type[BeginDay | OpenMarket | CloseMarket],
                      method: Callable[..., list[Event]], time: int,
                      products: Iterable[str] | None) -> list[Event]:
        """A session step (begin_day, open_market, close_market) for the given products."""
        if self._applying:
            return method(self, time=time, products=products)
        name = method.__name__
        if type(time) is not int:
            raise _unjournalable(name, ("time", time, _INT))
        codes = _codes(name, products)
        return self._run(record(time, codes), method, self, time=time, products=codes)

    def begin_day(self, *, time: int, products: Iterable[str] | None = None) -> list[Event]:
        return self._session_step(BeginDay, Exchange.begin_day, time, products)

    def open_market(self, *, time: int, products: Iterable[str] | None = None) -> list[Event]:
        return self._session_step(OpenMarket, Exchange.open_market, time, products)

    def close_market(self, *, time: int, products: Iterable[str] | None = None) -> list[Event]:
        """`Exchange.close_market`, then the journal's batch is flushed: a day is whole."""
        events = self._session_step(CloseMarket, Exchange.close_market, time, products)
        if not self._applying:
            self.journal.flush()
        return events

    # ------------------------------------------------------------------ orders

    def submit_limit(self, member: int | str, product: str, side: Side, price: int, qty: int,
                     *, tif: TimeInForce = GTC, post_only: bool = False,
                     channel: Channel = ONLINE, time: int, order_id: int | None = None
                     ) -> list[Event]:
        if self._applying:
            return Exchange.submit_limit(self, member, product, side, price, qty, tif=tif,
                                         post_only=post_only, channel=channel, time=time,
                                         order_id=order_id)
        if (type(price) is not int or type(qty) is not int or type(time) is not int
                or (type(member) is not int and type(member) is not str)
                or type(product) is not str or type(side) is not Side
                or type(tif) is not TimeInForce or type(post_only) is not bool
                or type(channel) is not Channel
                or (order_id is not None and type(order_id) is not int)):
            raise _unjournalable("submit_limit", ("member", member, _MEMBER),
                                 ("product", product, _STR), ("side", side, _SIDE),
                                 ("price", price, _INT), ("qty", qty, _INT), ("tif", tif, _TIF),
                                 ("post_only", post_only, _BOOL), ("channel", channel, _CHANNEL),
                                 ("time", time, _INT), ("order_id", order_id, _OPT_INT))
        # Enums go into the record as their raw values (`_value_`): the same bytes as the
        # members themselves, without Python 3.11's slow `Enum.value` property in the encoder.
        return self._run(SubmitLimit(member, product, side._value_, price, qty, tif._value_,
                                     post_only, channel._value_, time, order_id),
                         Exchange.submit_limit, self, member, product, side, price, qty,
                         tif=tif, post_only=post_only, channel=channel, time=time,
                         order_id=order_id)

    def submit_market(self, member: int | str, product: str, side: Side, qty: int, *,
                      protection: int | None = None, channel: Channel = ONLINE, time: int,
                      order_id: int | None = None) -> list[Event]:
        if self._applying:
            return Exchange.submit_market(self, member, product, side, qty,
                                          protection=protection, channel=channel, time=time,
                                          order_id=order_id)
        if (type(qty) is not int or type(time) is not int
                or (type(member) is not int and type(member) is not str)
                or type(product) is not str or type(side) is not Side
                or type(channel) is not Channel
                or (protection is not None and type(protection) is not int)
                or (order_id is not None and type(order_id) is not int)):
            raise _unjournalable("submit_market", ("member", member, _MEMBER),
                                 ("product", product, _STR), ("side", side, _SIDE),
                                 ("qty", qty, _INT), ("protection", protection, _OPT_INT),
                                 ("channel", channel, _CHANNEL), ("time", time, _INT),
                                 ("order_id", order_id, _OPT_INT))
        return self._run(SubmitMarket(member, product, side._value_, qty, protection,
                                      channel._value_, time, order_id),
                         Exchange.submit_market, self, member, product, side, qty,
                         protection=protection, channel=channel, time=time, order_id=order_id)

    def cancel(self, member: int | str, order_id: int, *, time: int) -> list[Event]:
        if self._applying:
            return Exchange.cancel(self, member, order_id, time=time)
        if (type(order_id) is not int or type(time) is not int
                or (type(member) is not int and type(member) is not str)):
            raise _unjournalable("cancel", ("member", member, _MEMBER),
                                 ("order_id", order_id, _INT), ("time", time, _INT))
        return self._run(Cancel(member, order_id, time), Exchange.cancel, self, member,
                         order_id, time=time)

    def amend(self, member: int | str, order_id: int, *, price: int | None = None,
              qty: int | None = None, time: int) -> list[Event]:
        if self._applying:
            return Exchange.amend(self, member, order_id, price=price, qty=qty, time=time)
        if (type(order_id) is not int or type(time) is not int
                or (type(member) is not int and type(member) is not str)
                or (price is not None and type(price) is not int)
                or (qty is not None and type(qty) is not int)):
            raise _unjournalable("amend", ("member", member, _MEMBER),
                                 ("order_id", order_id, _INT), ("price", price, _OPT_INT),
                                 ("qty", qty, _OPT_INT), ("time", time, _INT))
        return self._run(Amend(member, order_id, price, qty, time), Exchange.amend, self,
                         member, order_id, price=price, qty=qty, time=time)

    # ------------------------------------------------------------------ deals and blocks

    def register_negotiated(self, buyer: int | str, seller: int | str, product: str,
                            price: int, qty: int, *, time: int) -> list[Event]:
        if self._applying:
            return Exchange.register_negotiated(self, buyer, seller, product, price, qty,
                                                time=time)
        if (type(price) is not int or type(qty) is not int or type(time) is not int
                or not _member_ok(buyer) or not _member_ok(seller) or type(product) is not str):
            raise _unjournalable("register_negotiated", ("buyer", buyer, _MEMBER),
                                 ("seller", seller, _MEMBER), ("product", product, _STR),
                                 ("price", price, _INT), ("qty", qty, _INT), ("time", time, _INT))
        return self._run(RegisterNegotiated(buyer, seller, product, price, qty, time),
                         Exchange.register_negotiated, self, buyer, seller, product, price, qty,
                         time=time)

    def open_block_auction(self, seller: int | str, product: str, qty: int, reserve_price: int,
                           *, start: int, end: int, uniform: bool | None = None,
                           channel: Channel = ONLINE, time: int | None = None) -> list[Event]:
        if self._applying:
            return Exchange.open_block_auction(self, seller, product, qty, reserve_price,
                                               start=start, end=end, uniform=uniform,
                                               channel=channel, time=time)
        if (type(qty) is not int or type(reserve_price) is not int or type(start) is not int
                or type(end) is not int or not _member_ok(seller) or type(product) is not str
                or (uniform is not None and type(uniform) is not bool)
                or type(channel) is not Channel or (time is not None and type(time) is not int)):
            raise _unjournalable("open_block_auction", ("seller", seller, _MEMBER),
                                 ("product", product, _STR), ("qty", qty, _INT),
                                 ("reserve_price", reserve_price, _INT), ("start", start, _INT),
                                 ("end", end, _INT), ("uniform", uniform, _OPT_BOOL),
                                 ("channel", channel, _CHANNEL), ("time", time, _OPT_INT))
        return self._run(OpenBlockAuction(seller, product, qty, reserve_price, start, end,
                                          uniform, channel._value_, time),
                         Exchange.open_block_auction, self, seller, product, qty, reserve_price,
                         start=start, end=end, uniform=uniform, channel=channel, time=time)

    def bid_block_auction(self, member: int | str, auction_id: int, price: int, qty: int, *,
                          time: int, channel: Channel = ONLINE) -> list[Event]:
        if self._applying:
            return Exchange.bid_block_auction(self, member, auction_id, price, qty, time=time,
                                              channel=channel)
        if (type(auction_id) is not int or type(price) is not int or type(qty) is not int
                or type(time) is not int or not _member_ok(member)
                or type(channel) is not Channel):
            raise _unjournalable("bid_block_auction", ("member", member, _MEMBER),
                                 ("auction_id", auction_id, _INT), ("price", price, _INT),
                                 ("qty", qty, _INT), ("time", time, _INT),
                                 ("channel", channel, _CHANNEL))
        return self._run(BidBlockAuction(member, auction_id, price, qty, time,
                                         channel._value_),
                         Exchange.bid_block_auction, self, member, auction_id, price, qty,
                         time=time, channel=channel)

    def settle_block_auction(self, auction_id: int, *, time: int) -> list[Event]:
        if self._applying:
            return Exchange.settle_block_auction(self, auction_id, time=time)
        if type(auction_id) is not int or type(time) is not int:
            raise _unjournalable("settle_block_auction", ("auction_id", auction_id, _INT),
                                 ("time", time, _INT))
        return self._run(SettleBlockAuction(auction_id, time), Exchange.settle_block_auction,
                         self, auction_id, time=time)

    # ------------------------------------------------------------------ rule changes

    def set_band(self, product: str, *, band_pct: int | None, band_abs: int | None = None
                 ) -> list[Event]:
        if self._applying:
            return Exchange.set_band(self, product, band_pct=band_pct, band_abs=band_abs)
        if (type(product) is not str or (band_pct is not None and type(band_pct) is not int)
                or (band_abs is not None and type(band_abs) is not int)):
            raise _unjournalable("set_band", ("product", product, _STR),
                                 ("band_pct", band_pct, _OPT_INT),
                                 ("band_abs", band_abs, _OPT_INT))
        return self._run(SetBand(product, band_pct, band_abs), Exchange.set_band, self, product,
                         band_pct=band_pct, band_abs=band_abs)

    def set_channel_open(self, channel: Channel, is_open: bool, *, time: int) -> list[Event]:
        if self._applying:
            return Exchange.set_channel_open(self, channel, is_open, time=time)
        if type(channel) is not Channel or type(is_open) is not bool or type(time) is not int:
            raise _unjournalable("set_channel_open", ("channel", channel, _CHANNEL),
                                 ("is_open", is_open, _BOOL), ("time", time, _INT))
        return self._run(SetChannelOpen(channel._value_, is_open, time),
                         Exchange.set_channel_open, self, channel, is_open, time=time)


# ---------------------------------------------------------------------------- reading


class JournalContents(NamedTuple):
    """A journal read back: its header, its commands in order, and the bytes of a torn tail."""

    header: JournalHeader
    commands: list[Command]
    dropped_bytes: int


def _read_source(source: str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO
                 ) -> tuple[bytes, str]:
    """The journal's bytes and a name for messages."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "journal"
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            return f.read(), os.fspath(source)
    if callable(getattr(source, "read", None)):
        return source.read(), getattr(source, "name", "journal")
    raise TypeError(f"source must be a path, bytes or a binary file, got {source!r}")


def _frame_problem(data: bytes, view: memoryview, offset: int) -> str:
    """What is wrong with the frame at `offset` ("" when it is whole and its checksum holds)."""
    size = len(data)
    if size - offset < _FRAME.size:
        return f"{size - offset} bytes, too few for a frame"
    length, crc = _FRAME.unpack_from(data, offset)
    if length > MAX_RECORD_BYTES:
        return f"length {length} is more than any record could have"
    if length == 0:
        return "length 0"
    end = offset + _FRAME.size + length
    if end > size:
        return f"length {length} runs past the end of the file"
    if _crc32(view[offset + _FRAME.size:end]) != crc:
        return "checksum mismatch"
    return ""


def _next_whole_record(data: bytes, view: memoryview, start: int) -> int | None:
    """The offset of the first whole record at or after `start`, or None.

    A whole record is a frame whose length fits the file, whose checksum holds and whose
    payload decodes as a record: damage with one of these after it is not a torn tail.
    """
    size = len(data)
    if data.count(0, start) == size - start:
        return None  # only zeros: what a crash leaves of an append
    unpack = _FRAME.unpack_from
    decode = _DECODER.decode
    for p in range(start, size - _FRAME.size):
        length, crc = unpack(data, p)
        end = p + _FRAME.size + length
        if 0 < length and end <= size and _crc32(view[p + _FRAME.size:end]) == crc:
            try:
                decode(view[p + _FRAME.size:end])
            except msgspec.DecodeError:
                continue
            return p
    return None


def _scan(data: bytes, name: str) -> tuple[JournalHeader, list[tuple[int, Command]], int]:
    """Decode every whole frame: (header, [(offset, command)], dropped bytes of the tail).

    A frame that is cut short, or whose length or checksum does not hold, ends the journal
    when no whole record follows it anywhere (a torn tail: a crash during the last append);
    with a whole record after it, it is damage, and a JournalError.
    """
    view = memoryview(data)
    size = len(data)
    offset = 0
    header: JournalHeader | None = None
    commands: list[tuple[int, Command]] = []
    decode = _DECODER.decode
    while offset < size:
        problem = _frame_problem(data, view, offset)
        if problem:
            later = _next_whole_record(data, view, offset + 1)
            if later is None:
                break  # a torn tail
            what = "record 0 (the header)" if header is None else f"record {len(commands) + 1}"
            raise JournalError(f"{name}: {what} at byte offset {offset} is corrupt: {problem}, "
                               f"and a whole record follows at byte offset {later}")
        end = offset + _FRAME.size + _FRAME.unpack_from(data, offset)[0]
        if header is None:
            header = _decode_header(view[_FRAME.size:end], name)
        else:
            where = f"{name}: record {len(commands) + 1} at byte offset {offset}"
            try:
                record = decode(view[offset + _FRAME.size:end])
            except msgspec.DecodeError as exc:
                raise JournalError(f"{where} is corrupt: it does not decode: {exc}") from None
            if type(record) is JournalHeader:
                raise JournalError(f"{where} is corrupt: a second header (a journal has one, "
                                   f"first)")
            commands.append((offset, record))
        offset = end
    if header is None:
        raise JournalError(f"{name}: no complete header record: not a rexsim journal, or one "
                           f"cut off before its first command ({size} bytes)")
    return header, commands, size - offset


def _decode_header(payload: memoryview, name: str) -> JournalHeader:
    where = f"{name}: record 0 at byte offset 0"
    try:
        raw = msgspec.msgpack.decode(payload)
    except msgspec.DecodeError:
        raw = None
    if type(raw) is not list or len(raw) < 2 or raw[0] != HEADER_TAG:
        raise JournalError(f"{name}: not a rexsim journal (record 0 is no journal header)")
    if raw[1] != FORMAT_VERSION:
        raise JournalError(f"{where}: journal format version {raw[1]!r}; this rexsim reads "
                           f"version {FORMAT_VERSION}")
    try:
        return msgspec.msgpack.decode(payload, type=JournalHeader)
    except (msgspec.DecodeError, TypeError, ValueError) as exc:
        raise JournalError(f"{where}: header does not decode: {exc}") from None


def is_journal(path: str | os.PathLike[str]) -> bool:
    """Whether the file begins with a journal's header record (of any format version).

    Reads the first record only: a tool can tell a journal it may replace from a file it
    must not clobber, without reading the whole file.
    """
    try:
        with open(path, "rb") as f:
            frame = f.read(_FRAME.size)
            if len(frame) < _FRAME.size:
                return False
            length = _FRAME.unpack(frame)[0]
            payload = f.read(min(length, MAX_RECORD_BYTES))
    except OSError:
        return False
    if len(payload) != length:
        return False
    try:
        raw = msgspec.msgpack.decode(payload)
    except msgspec.DecodeError:
        return False
    return type(raw) is list and raw[:1] == [HEADER_TAG]


def read_journal(source: str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO
                 ) -> JournalContents:
    """Read a journal: header, commands and how many bytes of a torn last record were dropped.

    Never raises for a journal cut off inside its last record; raises `JournalError` (naming
    the record and its byte offset) for corruption, a missing header or another version.
    """
    data, name = _read_source(source)
    header, commands, dropped = _scan(data, name)
    return JournalContents(header, [c for _, c in commands], dropped)


# ---------------------------------------------------------------------------- replay


def _limit(ex: Exchange, c: SubmitLimit) -> list[Event]:
    return ex.submit_limit(c.member, c.product, c.side, c.price, c.qty, tif=c.tif,
                           post_only=c.post_only, channel=c.channel, time=c.time,
                           order_id=c.order_id)


def _ids_used(ex: Exchange, c: IdsUsed) -> list[Event]:
    ex._next_id = c.next_id  # the one state a request that raised may have changed
    return []


_APPLY: dict[type, Callable[[Exchange, Any], list[Event] | None]] = {
    AddMember: lambda ex, c: ex.add_member(c.member_id, joined=c.joined),
    SuspendMember: lambda ex, c: ex.suspend_member(c.member_id, time=c.time),
    ReinstateMember: lambda ex, c: ex.reinstate_member(c.member_id),
    BeginDay: lambda ex, c: ex.begin_day(time=c.time, products=c.products),
    OpenMarket: lambda ex, c: ex.open_market(time=c.time, products=c.products),
    CloseMarket: lambda ex, c: ex.close_market(time=c.time, products=c.products),
    SubmitLimit: _limit,
    SubmitMarket: lambda ex, c: ex.submit_market(c.member, c.product, c.side, c.qty,
                                                 protection=c.protection, channel=c.channel,
                                                 time=c.time, order_id=c.order_id),
    Cancel: lambda ex, c: ex.cancel(c.member, c.order_id, time=c.time),
    Amend: lambda ex, c: ex.amend(c.member, c.order_id, price=c.price, qty=c.qty, time=c.time),
    RegisterNegotiated: lambda ex, c: ex.register_negotiated(c.buyer, c.seller, c.product,
                                                             c.price, c.qty, time=c.time),
    OpenBlockAuction: lambda ex, c: ex.open_block_auction(c.seller, c.product, c.qty,
                                                          c.reserve_price, start=c.start,
                                                          end=c.end, uniform=c.uniform,
                                                          channel=c.channel, time=c.time),
    BidBlockAuction: lambda ex, c: ex.bid_block_auction(c.member, c.auction_id, c.price, c.qty,
                                                        time=c.time, channel=c.channel),
    SettleBlockAuction: lambda ex, c: ex.settle_block_auction(c.auction_id, time=c.time),
    SetBand: lambda ex, c: ex.set_band(c.product, band_pct=c.band_pct, band_abs=c.band_abs),
    SetChannelOpen: lambda ex, c: ex.set_channel_open(c.channel, c.is_open, time=c.time),
    IdsUsed: _ids_used,
}


_DELIVERY = (Exchange._done.__code__, Exchange._publish.__code__)


def _raised_by_exchange(exc: BaseException) -> bool:
    """True when `exc` is the exchange refusing a command, not a listener failing on an event.

    The exchange raises for misuse before it delivers anything; a listener's exception comes
    through the delivery (`Exchange._done` / `_publish`).
    """
    if not isinstance(exc, TypeError | ValueError | KeyError):
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code in _DELIVERY:
            return False
        tb = tb.tb_next
    return True


def _refused(exc: BaseException, command: Command, where: str) -> JournalError:
    """The one-line JournalError for a command the exchange refused with an exception."""
    said = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return JournalError(f"{where} ({command.__struct_config__.tag}): the exchange refused it: "
                        f"{type(exc).__name__}: {said}")


def apply_command(exchange: Exchange, command: Command, *, record: int | None = None
                  ) -> list[Event]:
    """Issue one journaled command to `exchange` and return its events (none for add_member).

    A command the exchange refuses with an exception (a second begin_day, an unknown product)
    raises `JournalError` naming the record (`record`, its number, when given) and what the
    exchange said; an exception raised by one of the exchange's listeners propagates as it is.
    """
    try:
        apply = _APPLY[type(command)]
    except KeyError:
        raise TypeError(f"command must be a journal Command, got {command!r}") from None
    try:
        return apply(exchange, command) or []
    except Exception as exc:
        if not _raised_by_exchange(exc):
            raise
        where = "command" if record is None else f"record {record}"
        raise _refused(exc, command, where) from exc


class ReplayReport(msgspec.Struct, frozen=True):
    """What a replay read: commands and events replayed, bytes used and bytes dropped.

    `valid_bytes` is where the last whole record ends (truncate a torn file there to append
    to it cleanly); `dropped_bytes` counts what followed, a record cut off by a crash.
    """

    version: int
    commands: int
    events: int
    valid_bytes: int
    dropped_bytes: int

    @property
    def complete(self) -> bool:
        """True when the journal ended on a whole record."""
        return self.dropped_bytes == 0

    def summary(self) -> str:
        """One line for a log or a terminal."""
        line = (f"replayed {self.commands} commands ({self.events} events) from "
                f"{self.valid_bytes} bytes")
        if self.dropped_bytes:
            line += f"; dropped {self.dropped_bytes} bytes of a last record cut short"
        return line


class Replayed(NamedTuple):
    """A replay's outcome: the rebuilt exchange, every event in order, and the report."""

    exchange: Exchange
    events: list[Event]
    report: ReplayReport


def replay(source: str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO,
           listener: Callable[[Event], None] | None = None, *, keep_events: bool = True
           ) -> Replayed:
    """Rebuild a fresh `Exchange` from a journal and re-issue every command in order.

    `listener` (subscribed before the first command) hears every event as the original
    exchange's listeners did; it should only observe, as the journal already holds every
    request the original listeners made. `events` is every command's events, in order (empty
    with `keep_events=False`, for journals too long to hold in memory). A command the exchange
    refuses with an exception raises `JournalError` naming its record, byte offset and what
    the exchange said.
    """
    data, name = _read_source(source)
    header, commands, dropped = _scan(data, name)
    exchange = Exchange(header.products, header.settings)
    if listener is not None:
        exchange.subscribe(listener)
    events: list[Event] = []
    count = 0
    apply = _APPLY
    for i, (offset, command) in enumerate(commands, start=1):
        try:
            out = apply[type(command)](exchange, command)
        except Exception as exc:
            if _raised_by_exchange(exc):
                raise _refused(exc, command, f"{name}: record {i} at byte offset {offset}"
                               ) from exc
            exc.add_note(f"{name}: while replaying record {i} at byte offset {offset} "
                         f"({type(command).__name__})")
            raise
        if out:
            count += len(out)
            if keep_events:
                events.extend(out)
    report = ReplayReport(header.version, len(commands), count, len(data) - dropped, dropped)
    return Replayed(exchange, events, report)
