"""The one base view of the member API: every request signed like protocol v2 with the member's key."""

from rest_framework.views import APIView

from registry.api.authentication import IsActiveMember, MemberSignatureAuthentication


class MemberAPIView(APIView):
    authentication_classes = [MemberSignatureAuthentication]
    permission_classes = [IsActiveMember]
