"""One Store implementation per backend; the differences between them are in storage.BACKENDS."""
