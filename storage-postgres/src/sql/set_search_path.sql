-- Points the migrations (which name their tables unqualified) at the store's schema,
-- until the transaction ends.
SET LOCAL search_path TO {schema}
