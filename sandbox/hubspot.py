"""Emulator placeholder: replaced by the real emulator."""

from fastapi import FastAPI

from sandbox.state import SandboxState


def create_hubspot_app(state: SandboxState) -> FastAPI:
    return FastAPI()
