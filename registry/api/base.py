from rest_framework.views import APIView

from registry.api.authentication import IsActiveMember, MemberSignatureAuthentication


class MemberAPIView(APIView):
    authentication_classes = [MemberSignatureAuthentication]  # each request signed like protocol v2 with the member's key
    permission_classes = [IsActiveMember]
