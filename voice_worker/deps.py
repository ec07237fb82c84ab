"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from voice_worker.services import Services


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


ServicesDep = Annotated[Services, Depends(services)]
