"""cairn.objects: an S3-compatible object store built the way S3 is described from the inside.

Metadata (buckets, keys, versions, the placement of each object's shards) lives in a cairn
ordered storage engine, so a listing is a range scan over a flat namespace; data is cut into
stripes, Reed-Solomon encoded k+m and spread over drives chosen by rendezvous hashing. See
docs/objects.md.
"""
