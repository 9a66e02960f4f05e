package localaws

import "net/http"

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

func stsService() *service {
	return &service{
		name:     "sts",
		protocol: queryProtocol,
		xmlns:    stsNamespace,
		ops: map[string]operation{
			"GetCallerIdentity": {fn: (*Server).stsGetCallerIdentity},
		},
		throttleErr:     awsError{Code: "Throttling", Message: "Rate exceeded", Status: http.StatusBadRequest},
		serverErr:       awsError{Code: "InternalFailure", Message: "An internal error occurred.", Status: http.StatusInternalServerError},
		invalidTokenErr: awsError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden},
		badRequestCode:  "ValidationError",
	}
}

type getCallerIdentityResult struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

// stsGetCallerIdentity names the signer: the user owning the signing key if
// the emulator knows it, else the account's root user.
func (s *Server) stsGetCallerIdentity(req *request) (any, *awsError) {
	return &getCallerIdentityResult{UserID: req.caller.userID, Account: s.account, Arn: req.caller.arn}, nil
}
