/**
 * HuggingFace `DistilBertModel` (learned positions, no token types, post-norm blocks, exact
 * GELU), with its `state_dict` keys: `embeddings.*`,
 * `transformer.layer.{i}.attention.{q,k,v,out}_lin`, `.sa_layer_norm`, `.ffn.lin{1,2}`,
 * `.output_layer_norm`. No attention mask, dropout absent.
 * @module
 */

import { type Graph, GraphBuilder } from "../ir.ts";
import type { SequenceModelOptions } from "./bert.ts";

/** Architecture of a DistilBERT model, as the fields of HuggingFace's `DistilBertConfig`. */
export interface DistilBertConfig {
  vocabSize: number;
  dim: number;
  numLayers: number;
  numHeads: number;
  /** Width of the feed-forward layer (`hidden_dim`). */
  hiddenDim: number;
  maxPositions: number;
}

/** distilbert-base-uncased. */
export const DISTILBERT_BASE: DistilBertConfig = {
  vocabSize: 30522,
  dim: 768,
  numLayers: 6,
  numHeads: 12,
  hiddenDim: 3072,
  maxPositions: 512,
};

/** LayerNorm epsilon, fixed in HuggingFace's DistilBERT modules. */
const EPS = 1e-12;

/** Builds a DistilBERT graph named `name`: input `input_ids` `[N, S]` int32, output `output` `[N, S, D]`. */
export function buildDistilBert(
  name: string,
  config: DistilBertConfig,
  options: SequenceModelOptions = {},
): Graph {
  const batch = options.batch ?? 1;
  const seq = options.seq ?? 128;
  const d = config.dim;
  const b = new GraphBuilder(name, batch);
  const ids = b.input("input_ids", [batch, seq], "int32");
  let x = b.embedding(ids, "embeddings", {
    vocab: config.vocabSize,
    dim: d,
    maxPositions: config.maxPositions,
    typeVocab: 0,
    eps: EPS,
  });
  for (let i = 0; i < config.numLayers; i++) {
    const p = `transformer.layer.${i}`;
    const q = b.linear(x, `${p}.attention.q_lin`, { outFeatures: d });
    const k = b.linear(x, `${p}.attention.k_lin`, { outFeatures: d });
    const v = b.linear(x, `${p}.attention.v_lin`, { outFeatures: d });
    const context = b.attention(q, k, v, config.numHeads, `${p}.attention`);
    const attended = b.linear(context, `${p}.attention.out_lin`, { outFeatures: d });
    x = b.layernorm(b.add(attended, x, `${p}.sa_add`), `${p}.sa_layer_norm`, EPS);
    const h = b.gelu(
      b.linear(x, `${p}.ffn.lin1`, { outFeatures: config.hiddenDim }),
      `${p}.ffn.gelu`,
    );
    const out = b.linear(h, `${p}.ffn.lin2`, { outFeatures: d });
    x = b.layernorm(b.add(out, x, `${p}.output_add`), `${p}.output_layer_norm`, EPS);
  }
  b.output("output", x);
  return b.build();
}
