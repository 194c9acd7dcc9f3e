"""The one error type the renderer raises for a request it cannot meet."""


class RenderError(ValueError):
    """A poster request that cannot be rendered; the message says what was wrong."""
