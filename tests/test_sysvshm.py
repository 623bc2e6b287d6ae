"""compare.system.sysvshm on a fixed copy of the kernel's table: which segments, whose, kept."""

from __future__ import annotations

from pathlib import Path

from compare.system import sysvshm

TABLE = """\
       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid
   2146848      32794   600                    56  6242  6248      0   101   104   101   104
         0         17  1600                  4096   900   900      1     0     0     0     0
"""


def test_the_table_is_read_by_its_header(tmp_path: Path) -> None:
    table = tmp_path / "shm"
    table.write_text(TABLE)
    assert sysvshm.segments(table) == (
        sysvshm.Segment(id=32794, key=2146848, creator_pid=6242, creator_uid=101),
        sysvshm.Segment(id=17, key=0, creator_pid=900, creator_uid=0),
    )
    assert [s.id for s in sysvshm.created_by(6242, 101, table)] == [32794]
    assert sysvshm.created_by(6242, 0, table) == ()  # that pid, but as another user: not it
    assert sysvshm.segments(tmp_path / "absent") == ()


def test_an_id_that_now_names_another_segment_is_left_alone(tmp_path: Path) -> None:
    table = tmp_path / "shm"
    table.write_text(TABLE)
    # Segment 17 exists but was created by someone else than the one remembered.
    remembered = sysvshm.Segment(id=17, key=0, creator_pid=901, creator_uid=101)
    assert sysvshm.remove_if_unchanged(remembered, table) is False
    assert sysvshm.remove_if_unchanged(sysvshm.Segment(5, 0, 1, 1), table) is False
