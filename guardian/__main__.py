"""``python -m guardian``: the same as the ``guardian`` command."""

from guardian.cli import main

if __name__ == "__main__":
    main()
