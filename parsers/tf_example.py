"""``tf.train.Example`` without TensorFlow: the same protobuf messages, from the protobuf
runtime alone.

TensorFlow's ``example.proto`` / ``feature.proto`` define (package ``tensorflow``)::

    message Example  { Features features = 1; }
    message Features { map<string, Feature> feature = 1; }
    message Feature  { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
                                    Int64List int64_list = 3; } }
    message BytesList { repeated bytes value = 1; }
    message FloatList { repeated float value = 1 [packed = true]; }
    message Int64List { repeated int64 value = 1 [packed = true]; }

The same definitions are built here in a private descriptor pool (so they never clash
with TensorFlow's own when both are loaded), which gives message classes with the API
and wire format of ``tf.train.Example``: ``Example.FromString(raw)``,
``example.features.feature[key].WhichOneof("kind")``, ``SerializeToString()``.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(
        name="eo_tfds/tensorflow_example.proto", package="tensorflow", syntax="proto3")

    def message(name, *fields, parent=None):
        msg = (parent.nested_type if parent is not None else proto.message_type).add(name=name)
        for number, field_name, kind, label, type_name, oneof in fields:
            field = msg.field.add(name=field_name, number=number, type=kind, label=label,
                                  json_name=field_name)
            if type_name:
                field.type_name = type_name
            if oneof is not None:
                field.oneof_index = oneof
        return msg

    repeated, optional = _F.LABEL_REPEATED, _F.LABEL_OPTIONAL
    message("BytesList", (1, "value", _F.TYPE_BYTES, repeated, None, None))
    message("FloatList", (1, "value", _F.TYPE_FLOAT, repeated, None, None))
    message("Int64List", (1, "value", _F.TYPE_INT64, repeated, None, None))
    feature = message("Feature",
                      (1, "bytes_list", _F.TYPE_MESSAGE, optional, ".tensorflow.BytesList", 0),
                      (2, "float_list", _F.TYPE_MESSAGE, optional, ".tensorflow.FloatList", 0),
                      (3, "int64_list", _F.TYPE_MESSAGE, optional, ".tensorflow.Int64List", 0))
    feature.oneof_decl.add(name="kind")
    features = message("Features", (1, "feature", _F.TYPE_MESSAGE, repeated,
                                    ".tensorflow.Features.FeatureEntry", None))
    entry = message("FeatureEntry", (1, "key", _F.TYPE_STRING, optional, None, None),
                    (2, "value", _F.TYPE_MESSAGE, optional, ".tensorflow.Feature", None),
                    parent=features)
    entry.options.map_entry = True
    message("Example", (1, "features", _F.TYPE_MESSAGE, optional, ".tensorflow.Features", None))
    return proto


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())


def _class(name: str):
    descriptor = _POOL.FindMessageTypeByName(f"tensorflow.{name}")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(_POOL).GetPrototype(descriptor)


Example = _class("Example")
Features = _class("Features")
Feature = _class("Feature")
BytesList = _class("BytesList")
FloatList = _class("FloatList")
Int64List = _class("Int64List")


def bytes_feature(value: bytes) -> Feature:
    """A feature holding one byte string."""
    return Feature(bytes_list=BytesList(value=[value]))


def int64_feature(values) -> Feature:
    """A feature holding int64 values."""
    return Feature(int64_list=Int64List(value=[int(v) for v in values]))


def float_feature(values) -> Feature:
    """A feature holding float32 values."""
    return Feature(float_list=FloatList(value=[float(v) for v in values]))


def serialize(features: Mapping[str, Feature]) -> bytes:
    """The serialized ``tf.train.Example`` of ``{key: feature}``; deterministic (map
    entries sorted by key), so equal examples give equal bytes in every process."""
    example = Example(features=Features(feature=dict(features)))
    return example.SerializeToString(deterministic=True)
