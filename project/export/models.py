"""The database row source's model: same columns as the synthetic rows."""

from django.db import models


class ExportRow(models.Model):
    """One exported order line."""

    sku = models.CharField(max_length=16)
    customer = models.CharField(max_length=32)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()
    created = models.DateTimeField()
    note = models.CharField(max_length=32, blank=True)

    def __str__(self) -> str:
        return f"{self.pk} {self.sku}"
