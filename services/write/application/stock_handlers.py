"""The stock commands: receipts and adjustments of a SKU's stock item (staff only)."""

from shared.contracts.events import stock_stream_id

from ..domain.commands import AdjustStock, ReceiveStock
from ..domain.stock import StockItem
from .context import CommandContext
from .runner import CommandResult, CommandRunner


class StockCommands(CommandRunner):
    """One method per stock command; the stream of a SKU's item is named by the SKU."""

    async def receive_stock(
        self, sku: str, cmd: ReceiveStock, ctx: CommandContext
    ) -> CommandResult:
        """Units of `sku` arrived; the first receipt creates its stock item (`created`)."""
        result = await self._execute(
            StockItem,
            stock_stream_id(sku),
            lambda item: item.receive(cmd),
            ctx,
            new=lambda: StockItem.for_sku(sku),
        )
        self._tracked.learn([sku])  # orders placed here from now on reserve it
        return result

    async def adjust_stock(self, sku: str, cmd: AdjustStock, ctx: CommandContext) -> CommandResult:
        """Correct what is on hand of `sku` (NotFound when it has no stock item)."""
        return await self._execute(
            StockItem, stock_stream_id(sku), lambda item: item.adjust(cmd), ctx
        )
