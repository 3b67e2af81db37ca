"""Hypothesis strategies for NIR-shaped values."""

from __future__ import annotations

from hypothesis import strategies as st

from app.ins import nir_key

digits = st.sampled_from("0123456789")


def _n(count: int) -> st.SearchStrategy[str]:
    return st.text(digits, min_size=count, max_size=count)


departments = st.one_of(_n(2), st.sampled_from(["2A", "2B", "99"]))

nir_bodies = st.builds(
    lambda sex, year, month, dept, commune, order: sex + year + month + dept + commune + order,
    st.sampled_from("123478"),
    _n(2),
    _n(2),
    departments,
    _n(3),
    _n(3),
)

certified_nir_bodies = st.builds(lambda s, rest: s + rest[1:], st.sampled_from("12"), nir_bodies)

full_nirs = nir_bodies.map(lambda b: b + nir_key(b))
