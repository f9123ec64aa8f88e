"""Server-rendered overview until the single-page dashboard lands: hosts and where to go next."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hosts.access import can_manage_inventory, visible_hosts


@login_required
def index(request: HttpRequest) -> HttpResponse:
    context = {"hosts": visible_hosts(request.user), "can_manage": can_manage_inventory(request.user)}
    return render(request, "frontend/index.html", context)
