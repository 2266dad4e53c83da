"""Whole series: the pieces of one (split, tile, localid) joined in date order.

The publisher cuts a series longer than 100 timestamps into several records (pieces)
sharing tile and localid, and they may sit in different files and archives. Joining
streams in two passes, never holding more than one series in memory:

1. :func:`index_series` reads every file of a split once and keeps, per (tile, localid),
   where its pieces are (file, record index) and their first dates;
2. :func:`read_series` reads the pieces of one series at their places and joins them
   (:func:`join_pieces`).

The joined example is the reader's example dict (``tile``, ``localid``, ``image``
``(T, 42, 42, 4)``, ``labels``, ``dates`` raw, ``weights``) plus ``pieces`` int32, the
number of pieces joined. Its dates strictly increase: a date found in two pieces with
the same data (image, labels, weights) is kept once; with different data it is a
SourceDataError naming both files (and records). A date that cannot be decoded cannot
be ordered: an error naming its file and record.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator

import numpy as np

from parsers.errors import SourceDataError
from parsers.s2_cloud_timeseries.reader import decode_dates, iter_file, read_records_at

#: what the joined example holds that the reader's does not
PIECES = "pieces"


@dataclasses.dataclass(frozen=True)
class Piece:
    """One record of a series: where it is and its first date (days since 1970)."""

    path: str
    index: int
    first_day: int
    length: int


@dataclasses.dataclass(frozen=True)
class Series:
    """The pieces of one (tile, localid), in date order (then file and record order)."""

    tile: str
    localid: int
    pieces: tuple[Piece, ...]

    @property
    def key(self) -> str:
        """The example key: ``"<TILE>/<localid>"`` (unique within a split)."""
        return f"{self.tile}/{self.localid}"

    @property
    def length(self) -> int:
        """Timestamps of all pieces (an upper bound of the joined T: overlaps count twice)."""
        return sum(p.length for p in self.pieces)


def _days(example: dict, path, index: int) -> np.ndarray:
    days = decode_dates(example["dates"])
    if np.isnat(days).any():
        step = int(np.flatnonzero(np.isnat(days))[0])
        raise SourceDataError(path, f"record {index}: date {int(example['dates'][step])} at "
                              f"timestamp {step} is neither YYYYMMDD nor a day number, so the "
                              "series cannot be put in date order",
                              "build the 'pieces' config, which keeps the raw dates")
    return days.astype(np.int64)


def index_series(files: Iterable[os.PathLike | str]) -> list[Series]:
    """First pass over a split's files (in the given order): its series, each with its
    pieces in date order; series in the order of their first piece in the files.

    Every record is read and checked (CRC, parse) as :func:`iter_file` does; only the
    index is kept.
    """
    found: dict[tuple[str, int], list[tuple[int, int, int, Piece]]] = {}
    for order, path in enumerate(files):
        for key, example in iter_file(path):
            index = int(key.rsplit("/", 1)[1])
            days = _days(example, path, index)
            piece = Piece(os.fspath(path), index, int(days[0]), len(days))
            found.setdefault((example["tile"], int(example["localid"])), []).append(
                (piece.first_day, order, index, piece))
    series = [Series(tile, localid, tuple(p for *_, p in sorted(pieces)))
              for (tile, localid), pieces in found.items()]  # dicts keep insertion order
    return series


def read_series(series: Series) -> dict:
    """The joined example of one series: its pieces read at their places (each checked),
    then :func:`join_pieces`."""
    by_file: dict[str, list[int]] = {}
    for piece in series.pieces:
        by_file.setdefault(piece.path, []).append(piece.index)
    read = {}
    for path, indexes in by_file.items():
        for index, example in read_records_at(path, indexes):
            read[(path, index)] = example
    return join_pieces([(p.path, p.index, read[(p.path, p.index)]) for p in series.pieces])


def join_pieces(pieces: list[tuple[str, int, dict]]) -> dict:
    """Joins ``(path, record index, example)`` pieces of one series in date order (see
    the module doc for duplicates); the examples must share tile and localid."""
    tile, localid = pieces[0][2]["tile"], int(pieces[0][2]["localid"])
    for path, index, example in pieces:
        if example["tile"] != tile or int(example["localid"]) != localid:
            raise ValueError(f"{path} record {index} is not of tile {tile}, localid {localid}")
    days = np.concatenate([_days(ex, path, index) for path, index, ex in pieces])
    origin = np.concatenate([np.full(len(ex["dates"]), k) for k, (_, _, ex) in enumerate(pieces)])
    step = np.concatenate([np.arange(len(ex["dates"])) for _, _, ex in pieces])
    columns = {key: np.concatenate([ex[key] for _, _, ex in pieces])
               for key in ("image", "labels", "dates", "weights")}
    order = np.argsort(days, kind="stable")  # equal dates: the earlier piece first
    days = days[order]
    keep = np.ones(len(order), bool)
    for i in np.flatnonzero(days[1:] == days[:-1]) + 1:
        a, b = order[i - 1], order[i]  # b repeats a's date (a is kept, or equal to one kept)
        same = all(np.array_equal(columns[key][a], columns[key][b])
                   for key in ("image", "labels", "weights"))
        if not same:
            (path_a, index_a, _), (path_b, index_b, _) = pieces[origin[a]], pieces[origin[b]]
            date = np.datetime64(int(days[i]), "D")
            raise SourceDataError(
                path_a, f"record {index_a} (timestamp {step[a]}) and {path_b} record {index_b} "
                f"(timestamp {step[b]}) both hold {date} for tile {tile}, localid {localid}, "
                "with different data", "the two pieces of this series disagree: re-extract or "
                "re-download both files, or build the 'pieces' config")
        keep[i] = False
    chosen = order[keep]
    example = {"tile": tile, "localid": np.int64(localid)}
    example.update({key: np.ascontiguousarray(values[chosen]) for key, values in columns.items()})
    example[PIECES] = np.int32(len(pieces))
    return example


def iter_joined(files: Iterable[os.PathLike | str]) -> Iterator[tuple[str, dict]]:
    """``(key, joined example)`` for every series of a split's files, key
    ``"<TILE>/<localid>"``: :func:`index_series`, then :func:`read_series` each."""
    for series in index_series(list(files)):
        yield series.key, read_series(series)
