"""Any size from 32x16 to 4096x4096, any Vietnamese text: a sound poster or a clear RenderError."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renderer import PosterSpec, RenderError, custom_profile, render_poster
from renderer.spec import DEFAULT_URL
from tests.helpers import assert_layout_sound, decoded_urls

VI_LETTERS = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxy"
    "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
    "AĂÂĐÊÔƠƯÀÁẢÃẠẰẮẲẴẶẦẤẨẪẬÈÉẺẼẸỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌỒỐỔỖỘỜỚỞỠỢÙÚỦŨỤỪỨỬỮỰỲÝỶỸỴ"
)
word = st.text(alphabet=VI_LETTERS, min_size=1, max_size=12)
phrase = st.lists(word, min_size=1, max_size=8).map(" ".join)
sizes = st.tuples(st.integers(32, 4096), st.integers(16, 4096))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=sizes, headline=phrase, body=phrase, cta=phrase, lang=st.sampled_from(["vi", "en", "vi-en"]))
def test_any_size_any_text(size, headline, body, cta, lang):
    profile = custom_profile(*size)
    try:
        poster = render_poster(PosterSpec(lang=lang, headline=headline, body=body, cta=cta), profile)
    except RenderError as exc:
        assert str(exc)  # a clear message, never an empty one
        return
    assert poster.image.size == size
    assert_layout_sound(poster)
    roles = dict(poster.boxes)
    assert "headline" in roles
    if poster.qr is not None:
        assert poster.qr.ppm >= 2
        x0, y0, x1, y1 = poster.qr.box
        assert decoded_urls(poster.image.crop((x0, y0, x1, y1))) == [DEFAULT_URL]
    else:
        assert "url" in roles
