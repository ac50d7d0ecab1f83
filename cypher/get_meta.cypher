// Store.get_meta: every meta value (JSON text).
MATCH (m:Meta)
RETURN m.key AS key, m.value AS value
