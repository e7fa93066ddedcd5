"""cairn.booking: a ticket booking service that never double-books.

PostgreSQL is the source of truth; seat holds are taken by one of four strategies behind one
interface (``none``, ``pessimistic``, ``optimistic``, ``redis``) so they can be compared side by
side (DDIA ch. 7 "Preventing lost updates", ch. 8 "fencing tokens"). See docs/booking.md.
"""
