// The models a person picks from: what each is, and how long it takes on a laptop CPU
// (figures from BENCHMARKS.md: flowers-5x100 and trec-6).
export type Choice = {
  id: string;
  task: "image" | "text";
  title: string;
  explain: string;
  expected: string;
  config: Record<string, unknown>;
};

export const CHOICES: Choice[] = [
  {
    id: "image-quick",
    task: "image",
    title: "Quick (EfficientNet-Lite0, frozen)",
    explain: "Reuses a network trained on ImageNet and trains only the last layer. The best start.",
    expected: "about 5 seconds for 500 images on 2 CPU cores",
    config: { mode: "quick" },
  },
  {
    id: "image-finetune",
    task: "image",
    title: "Fine-tune (EfficientNet-Lite0)",
    explain: "Also adjusts the network's last blocks on augmented images: slower, often a few points better.",
    expected: "about 45 seconds for 500 images on 2 CPU cores",
    config: { mode: "finetune" },
  },
  {
    id: "image-quick-lite1",
    task: "image",
    title: "Quick (EfficientNet-Lite1, frozen)",
    explain:
      "A larger ImageNet network: 1.5x the time per image of Lite0. On the flower photos it was not more " +
      "accurate (0.897 against 0.905, cross-validated); try it when Lite0 falls short.",
    expected: "about 7 seconds for 500 images on 2 CPU cores",
    config: { mode: "quick", backbone: "efficientnet_lite1", image_size: 256 },
  },
  {
    id: "image-quick-lite2",
    task: "image",
    title: "Quick (EfficientNet-Lite2, frozen)",
    explain:
      "The largest offline network: 1.7x the time per image of Lite0. On the flower photos it was not " +
      "more accurate (0.899 against 0.905, cross-validated); try it on fine-grained classes.",
    expected: "about 8 seconds for 500 images on 2 CPU cores",
    config: { mode: "quick", backbone: "efficientnet_lite2", image_size: 256 },
  },
  {
    id: "text-minilm",
    task: "text",
    title: "MiniLM sentence embeddings",
    explain: "A small pretrained language model reads each text; a classifier learns on top. The best start.",
    expected: "about a minute for 5,000 texts",
    config: { model: "minilm" },
  },
  {
    id: "text-fasttext",
    task: "text",
    title: "fastText",
    explain: "Averages word and word-pair vectors learned from your texts: very fast, good on keywords.",
    expected: "seconds",
    config: { model: "fasttext" },
  },
  {
    id: "text-cnn",
    task: "text",
    title: "Text CNN",
    explain: "Learns short phrase detectors from your texts alone; needs a few thousand examples.",
    expected: "under a minute",
    config: { model: "cnn" },
  },
  {
    id: "text-lstm",
    task: "text",
    title: "LSTM",
    explain: "Reads each text word by word in both directions; learns from your texts alone.",
    expected: "one to a few minutes",
    config: { model: "lstm" },
  },
  {
    id: "text-gru",
    task: "text",
    title: "GRU",
    explain: "Like the LSTM with fewer weights: a little faster.",
    expected: "one to a few minutes",
    config: { model: "gru" },
  },
];
