"""Counter-based random streams: each draw a pure function of who draws and which draw."""

from __future__ import annotations

import numpy as np

from sim.streams import Streams, counter, normal, normal2, uniform


def test_a_draw_depends_only_on_its_key_and_its_coordinates():
    keys = Streams(7).members(np.arange(1, 50))
    c = counter(3, 5, 1)
    assert np.array_equal(uniform(keys, c), uniform(keys, c))
    assert np.array_equal(uniform(keys[10:20], c), uniform(keys, c)[10:20])  # who else draws
    assert not np.array_equal(uniform(keys, c), uniform(keys, counter(3, 5, 2)))


def test_a_members_stream_does_not_depend_on_how_many_members_there_are():
    assert np.array_equal(Streams(3).members(np.arange(1, 11)),
                          Streams(3).members(np.arange(1, 21))[:10])
    assert not np.array_equal(Streams(3).members(np.arange(1, 11)),
                              Streams(4).members(np.arange(1, 11)))


def test_uniform_and_normal_draws_have_their_distribution():
    keys = Streams(1).members(np.arange(1, 20_001))
    u = uniform(keys, 9)
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.003
    z = normal(keys, 9)
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    a, b = normal2(keys, 9)
    assert np.array_equal(a, z)  # the first of the pair is `normal`
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03 and abs(b.std() - 1) < 0.03


def test_a_uniform_and_a_normal_of_the_same_counter_are_independent():
    keys = Streams(2).members(np.arange(1, 20_001))
    assert abs(np.corrcoef(uniform(keys, 4), normal(keys, 4))[0, 1]) < 0.03


def test_sub_streams_of_one_member_differ_and_are_stable():
    key = Streams(5).members(np.arange(1, 2))
    subs = Streams.sub(np.repeat(key, 4), np.arange(4))
    assert len(set(subs.tolist())) == 4
    assert np.array_equal(subs, Streams.sub(np.repeat(key, 4), np.arange(4)))


def test_member_keys_are_numpys_spawned_seed_sequences_bit_for_bit():
    # the vectorised spawn (every 32-bit id at once) against SeedSequence one id at a time,
    # for seeds of one and two 32-bit words and ids at the edges; ids beyond 32 bits take
    # SeedSequence itself
    ids = [0, 1, 2, 3, 999, 1000, 65_535, 2**31, 2**32 - 1, 2**32, 2**40]
    for seed in (0, 1, 5, 2**32 - 1, 2**32, 2**63 - 1):
        want = [int(np.random.SeedSequence(seed, spawn_key=(1, i)).generate_state(
            1, dtype=np.uint64)[0]) for i in ids]
        assert Streams(seed).members(np.array(ids)).tolist() == want
        assert Streams(seed).members(np.array(ids[:9])).tolist() == want[:9]
