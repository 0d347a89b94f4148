"""`python -m gazeserve`: the command line."""

from gazeserve.cli import app

if __name__ == "__main__":
    app(prog_name="gazeserve")
