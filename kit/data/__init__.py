"""The customer's data: format readers, validation, storage and transfers."""
