"""``furusato-wallet``: the resident's wallet (receiving, keeping and presenting credentials).

Its commands arrive with the wallet issue; the entry point exists so the console script is
installed from the start.
"""

from __future__ import annotations

import click

from shellkit.cli import BilingualGroup


@click.group(
    cls=BilingualGroup,
    help="ふるさと住民の証明書を受け取り、保管し、提示します (準備中) / "
    "Receive, keep and present furusato credentials (in preparation)",
)
@click.version_option(package_name="furusato-vc")
def main() -> None:
    pass


if __name__ == "__main__":  # pragma: no cover
    main()
