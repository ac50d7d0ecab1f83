// Store.get_faces: faces among $ids; the embedding only when $with_embedding.
UNWIND $ids AS id
MATCH (f:Face {id: id})
RETURN f {.id, .dim, .source, .image, .bbox, .quality, .batch, .created_at, .metadata,
          embedding: CASE WHEN $with_embedding THEN f.embedding END} AS face
