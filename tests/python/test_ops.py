"""Generic gRPC tooling against the real server: the standard health service through
grpcio-health-checking, and server reflection through grpcio-reflection, which lists the
services, fetches the API's file descriptor and calls an RPC without the .proto file."""

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from conftest import RPC_TIMEOUT_S

SERVICE = "eventlog.v1.EventLog"


@pytest.fixture()
def channel(server_address):
    channel = grpc.insecure_channel(server_address)
    try:
        grpc.channel_ready_future(channel).result(timeout=RPC_TIMEOUT_S)
        yield channel
    finally:
        channel.close()


def test_health_reports_serving_for_the_server_and_the_service(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE):
        response = health.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT_S
        )
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.RpcError) as error:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=RPC_TIMEOUT_S)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_service_and_serves_its_file_descriptor(channel):
    database = ProtoReflectionDescriptorDatabase(channel)
    services = database.get_services()
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services

    file = database.FindFileContainingSymbol(SERVICE)
    assert file.name == "eventlog/v1/eventlog.proto"
    assert file.package == "eventlog.v1"

    pool = descriptor_pool.DescriptorPool(database)
    service = pool.FindServiceByName(SERVICE)
    methods = {method.name for method in service.methods}
    assert {
        "Append",
        "GetEntry",
        "ReadLog",
        "GetActor",
        "ResolveActor",
        "ListActors",
        "ListRelationTypes",
        "GetLogInfo",
        "Subscribe",
        "CommitCheckpoint",
        "ListSubscriptions",
        "DeleteSubscription",
    } <= methods


def _message_class(descriptor):
    try:
        from google.protobuf.message_factory import GetMessageClass

        return GetMessageClass(descriptor)
    except ImportError:  # protobuf < 4.22
        from google.protobuf.message_factory import MessageFactory

        return MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


def test_an_rpc_can_be_called_from_reflection_alone(channel):
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    method = pool.FindServiceByName(SERVICE).methods_by_name["GetLogInfo"]
    request_class = _message_class(method.input_type)
    response_class = _message_class(method.output_type)
    call = channel.unary_unary(
        f"/{SERVICE}/GetLogInfo",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    info = call(request_class(), timeout=RPC_TIMEOUT_S)
    assert info.version
    assert info.relation_types > 0
