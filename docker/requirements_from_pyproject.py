"""Print pyuniproc's runtime requirements for an image based on Savant's, one per line.

Savant's image already has savant-rs (built for its own message protocol, which fusion must speak)
and its own OpenCV build: installing those from PyPI would replace them, so they are left out.
Usage (docker/Dockerfile.fusion): python requirements_from_pyproject.py pyproject.toml > requirements.txt
"""

import re
import sys

PROVIDED_BY_SAVANT = {"savant-rs", "opencv-python-headless", "opencv-python"}


def dependencies(text: str) -> list[str]:
    try:
        import tomllib

        return list(tomllib.loads(text)["project"]["dependencies"])
    except ImportError:  # Python < 3.11: the list is simple enough for a pattern
        block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
        return re.findall(r"\"([^\"]+)\"", block.group(1)) if block else []


def name_of(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as stream:
        for requirement in dependencies(stream.read()):
            if name_of(requirement) not in PROVIDED_BY_SAVANT:
                print(requirement)
