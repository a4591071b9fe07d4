/**
 * HuggingFace `BertModel` (post-norm encoder, exact GELU, pooler), with its `state_dict` keys:
 * `embeddings.*`, `encoder.layer.{i}.attention.self.{query,key,value}`,
 * `.attention.output.{dense,LayerNorm}`, `.intermediate.dense`, `.output.{dense,LayerNorm}`,
 * `pooler.dense`. The `position_ids` / `token_type_ids` buffers are not persistent in current
 * transformers releases, so they are not part of the `state_dict`. No attention mask (all tokens
 * valid), dropout absent.
 * @module
 */

import { type Graph, GraphBuilder } from "../ir.ts";

/** Architecture of a BERT model, as the fields of HuggingFace's `BertConfig`. */
export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
}

/** Build options of the transformer models. */
export interface SequenceModelOptions {
  /** Default 1. */
  batch?: number;
  /** Tokens per sequence; default 128. */
  seq?: number;
}

/** bert-base-uncased. */
export const BERT_BASE: BertConfig = {
  vocabSize: 30522,
  hiddenSize: 768,
  numLayers: 12,
  numHeads: 12,
  intermediateSize: 3072,
  maxPositions: 512,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
};

/**
 * Builds a BERT graph named `name`: input `input_ids` `[N, S]` int32, outputs `output`
 * (`last_hidden_state`, `[N, S, D]`) and `pooler_output` (`[N, D]`).
 */
export function buildBert(
  name: string,
  config: BertConfig,
  options: SequenceModelOptions = {},
): Graph {
  const batch = options.batch ?? 1;
  const seq = options.seq ?? 128;
  const d = config.hiddenSize;
  const eps = config.layerNormEps;
  const b = new GraphBuilder(name, batch);
  const ids = b.input("input_ids", [batch, seq], "int32");
  let x = b.embedding(ids, "embeddings", {
    vocab: config.vocabSize,
    dim: d,
    maxPositions: config.maxPositions,
    typeVocab: config.typeVocabSize,
    eps,
  });
  for (let i = 0; i < config.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    const q = b.linear(x, `${p}.attention.self.query`, { outFeatures: d });
    const k = b.linear(x, `${p}.attention.self.key`, { outFeatures: d });
    const v = b.linear(x, `${p}.attention.self.value`, { outFeatures: d });
    const context = b.attention(q, k, v, config.numHeads, `${p}.attention.self`);
    const attended = b.linear(context, `${p}.attention.output.dense`, { outFeatures: d });
    x = b.layernorm(
      b.add(attended, x, `${p}.attention.output.add`),
      `${p}.attention.output.LayerNorm`,
      eps,
    );
    const h = b.gelu(
      b.linear(x, `${p}.intermediate.dense`, { outFeatures: config.intermediateSize }),
      `${p}.intermediate.gelu`,
    );
    const out = b.linear(h, `${p}.output.dense`, { outFeatures: d });
    x = b.layernorm(b.add(out, x, `${p}.output.add`), `${p}.output.LayerNorm`, eps);
  }
  b.output("output", x);
  const first = b.selectFirstToken(x, "pooler.first_token");
  b.output(
    "pooler_output",
    b.tanh(b.linear(first, "pooler.dense", { outFeatures: d }), "pooler.activation"),
  );
  return b.build();
}
