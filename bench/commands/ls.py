"""`persona-bench ls [kind]`: what can be chosen, by kind."""

from bench.commands import command


@command("ls", "[kind]", "inventories, surveys, personas, populations, models, engines")
def ls_command(args: list[str]) -> int:
    """The handler of `persona-bench ls`: prints the catalog of what can be chosen."""
    from bench.tools.catalog import catalog_text

    print(catalog_text(args))
    return 0
