"""reef's zoo as PyTorch builds it (torchvision and HuggingFace, untrained), shared by the scripts
that measure PyTorch beside reef. Architectures and state_dict names are those reef's zoo copies.
"""
import torchvision
import transformers

TORCHVISION = {
    "vgg19": lambda: torchvision.models.vgg19(),
    "resnet18": lambda: torchvision.models.resnet18(),
    "resnet50": lambda: torchvision.models.resnet50(),
    "resnet152": lambda: torchvision.models.resnet152(),
    "densenet201": lambda: torchvision.models.densenet201(),
    "inception_v3": lambda: torchvision.models.inception_v3(
        aux_logits=False, init_weights=False, transform_input=False),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
}
IMAGE_SIZE = {"inception_v3": 299}
SEQUENCE = 128


def build(name):
    """The untrained PyTorch model of zoo model `name`."""
    if name in TORCHVISION:
        return TORCHVISION[name]()
    if name == "bert_base":
        return transformers.BertModel(transformers.BertConfig())
    if name == "distilbert":
        return transformers.DistilBertModel(transformers.DistilBertConfig())
    raise SystemExit(f"unknown zoo model {name!r}")
