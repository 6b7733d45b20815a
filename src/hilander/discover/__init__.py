"""Discovery of new identities from raw items: an encoder and a clusterer learnt together from
labeled identities (:class:`Discoverer`, ``hilander discover``)."""

from .discoverer import DEFAULT_METHODS, PROTOCOLS, Discoverer

__all__ = ["DEFAULT_METHODS", "PROTOCOLS", "Discoverer"]
