import pytest
from click.testing import CliRunner

from server import create_app
from server.cli import main


@pytest.fixture
def instance(tmp_path, monkeypatch):
    path = tmp_path / "instance"
    monkeypatch.setenv("SIGNAGE_INSTANCE", str(path))
    return path


@pytest.fixture
def app(instance):
    return create_app({"TESTING": True, "SECRET_KEY": "test"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(instance):
    """Invoke the `signage` command line with the test instance."""

    class Runner:
        def invoke(self, *args):
            return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return Runner()
