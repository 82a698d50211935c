from hypothesis import given, settings, strategies as st, HealthCheck
from tests.test_robustness import _property, SIZES, DAYS
import pytest
@settings(deadline=None, max_examples=1000, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_find(tmp_path_factory, data):
    _property(tmp_path_factory.getbasetemp(), data, SIZES, DAYS, hba1c_range=True)
