"""What a ``table`` input and a ``table`` output share: their settings, read once when the function loads.

``tableName``, ``partitionKey`` and ``rowKey`` may hold ``%Setting%`` references, replaced here, and
binding expressions (``{id}``, ``{queueTrigger}``...), resolved for each invocation. A literal table name
is checked now, so a bad one keeps the function from loading; a templated one is checked per invocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from azure.data.tables.aio import TableClient

from bindings import expressions
from bindings.base import FunctionInfo, InvocationContext
from durable_ext.errors import ConfigurationError

from .accounts import StorageAccounts, connection_setting
from .table_names import check_table_name

if TYPE_CHECKING:
    from bindings.catalog import Settings

BINDING_TYPE = "table"


@dataclass(frozen=True)
class TableBindingSettings:
    function_name: str
    binding_name: str
    table_name: str
    """The ``tableName`` template, ``%Setting%`` references replaced."""
    connection: str
    partition_key: str | None
    row_key: str | None

    @classmethod
    def from_binding(
        cls, function: FunctionInfo, binding: dict[str, Any], settings: Settings, accounts: StorageAccounts
    ) -> TableBindingSettings:
        """The binding's settings; ConfigurationError (naming function, binding, setting) if one is wrong."""
        name = str(binding.get("name"))

        def setting(key: str) -> str | None:
            raw = binding.get(key)
            if raw is None or raw == "":
                return None
            return settings.resolve(str(raw), f"function '{function.name}' table binding '{name}' {key}")

        table_name = setting("tableName")
        if table_name is None:
            raise ConfigurationError(
                f"Function '{function.name}', table binding '{name}' has no tableName. Set table_name in "
                "the decorator (tableName in function.json)."
            )
        if not expressions.parameter_names(table_name):  # also reports a malformed template now
            check_table_name(table_name, function_name=function.name, binding_name=name)
        connection = connection_setting(binding)
        accounts.check(connection, function.name)
        found = cls(
            function_name=function.name,
            binding_name=name,
            table_name=table_name,
            connection=connection,
            partition_key=setting("partitionKey"),
            row_key=setting("rowKey"),
        )
        for template in (found.partition_key, found.row_key):
            if template is not None:
                expressions.parse(template)
        return found

    @property
    def where(self) -> str:
        return f"function '{self.function_name}', table binding '{self.binding_name}'"

    def resolve(self, template: str | None, invocation: InvocationContext) -> str | None:
        """``template`` with its binding expressions resolved for ``invocation``; None stays None."""
        return None if template is None else expressions.resolve(template, invocation.binding_data)

    def table(self, accounts: StorageAccounts, invocation: InvocationContext) -> TableClient:
        """The client of the table this invocation uses (its name resolved and checked)."""
        name = check_table_name(
            expressions.resolve(self.table_name, invocation.binding_data),
            function_name=self.function_name,
            binding_name=self.binding_name,
        )
        return accounts.clients(self.connection, self.function_name).tables.get_table_client(name)
