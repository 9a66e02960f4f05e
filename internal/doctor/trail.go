package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// trailProblem says why trail t does not deliver the write management
// events of requiredRegion, "" when it does; a call that fails returns its
// error and the action it needed.
func trailProblem(ctx context.Context, client CloudTrail, t cttypes.Trail) (problem, action string, err error) {
	name, arn := aws.ToString(t.Name), aws.ToString(t.TrailARN)
	if !aws.ToBool(t.IsMultiRegionTrail) && aws.ToString(t.HomeRegion) != requiredRegion {
		return fmt.Sprintf("%s logs %s only", name, aws.ToString(t.HomeRegion)), "", nil
	}
	status, err := client.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(arn)})
	if err != nil {
		return "", "cloudtrail:GetTrailStatus", err
	}
	if !aws.ToBool(status.IsLogging) {
		return name + " is not logging", "", nil
	}
	sel, err := client.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: aws.String(arn)})
	if err != nil {
		return "", "cloudtrail:GetEventSelectors", err
	}
	if !logsWriteManagementEvents(sel) {
		return name + " logs no write management events", "", nil
	}
	return "", "", nil
}

// checkTrail: CloudTrail delivers "AWS API Call via CloudTrail" events to
// EventBridge only while a trail logs them. IAM's calls are recorded in
// us-east-1, so a trail there or a multi-region one must log write
// management events, or the key-creation record and the tamper watch
// never start.
func checkTrail(ctx context.Context, client CloudTrail, region string) Result {
	r := Result{ID: "cloudtrail", Title: "CloudTrail trail"}
	out, err := client.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return callFailed(r.ID, r.Title, "cloudtrail:DescribeTrails", err)
	}
	var problems []string
	for _, t := range out.TrailList {
		problem, action, err := trailProblem(ctx, client, t)
		if err != nil {
			return callFailed(r.ID, r.Title, action, err)
		}
		if problem != "" {
			problems = append(problems, problem)
			continue
		}
		r.Status = Pass
		r.Detail = fmt.Sprintf("%s is logging write management events (%s)", aws.ToString(t.Name), scope(t))
		return r
	}
	r.Status = Fail
	if len(out.TrailList) == 0 {
		r.Detail = "no trail: CreateAccessKey and the calls the tamper watch reads never reach EventBridge, so creation records and the tamper watch never fire"
	} else {
		r.Detail = "no trail logs write management events in us-east-1 (" + strings.Join(problems, "; ") + "): creation records and the tamper watch never fire"
	}
	r.Fix = fmt.Sprintf("start logging an existing trail (aws cloudtrail start-logging --name NAME), or create one: aws cloudtrail create-trail --region %s --name keywarden-trail --s3-bucket-name BUCKET --is-multi-region-trail && aws cloudtrail start-logging --region %s --name keywarden-trail", requiredRegion, requiredRegion)
	return r
}

func scope(t cttypes.Trail) string {
	if aws.ToBool(t.IsMultiRegionTrail) {
		return "multi-region, home " + aws.ToString(t.HomeRegion)
	}
	return aws.ToString(t.HomeRegion)
}

// logsWriteManagementEvents reads basic or advanced event selectors.
func logsWriteManagementEvents(out *cloudtrail.GetEventSelectorsOutput) bool {
	for _, s := range out.EventSelectors {
		if aws.ToBool(s.IncludeManagementEvents) && (s.ReadWriteType == cttypes.ReadWriteTypeAll || s.ReadWriteType == cttypes.ReadWriteTypeWriteOnly) {
			return true
		}
	}
	for _, s := range out.AdvancedEventSelectors {
		if advancedLogsIAMWrites(s) {
			return true
		}
	}
	return false
}

// advancedLogsIAMWrites: the selector is about management events, does
// not keep only read-only ones, and does not leave IAM out.
func advancedLogsIAMWrites(s cttypes.AdvancedEventSelector) bool {
	management := false
	for _, f := range s.FieldSelectors {
		field := aws.ToString(f.Field)
		switch field {
		case "eventCategory":
			management = slices.Contains(f.Equals, "Management")
		case "readOnly":
			if slices.Contains(f.Equals, "true") || slices.Contains(f.NotEquals, "false") {
				return false
			}
		case "eventSource":
			if len(f.Equals) > 0 && !slices.Contains(f.Equals, "iam.amazonaws.com") || slices.Contains(f.NotEquals, "iam.amazonaws.com") {
				return false
			}
		}
	}
	return management
}
